"""The statement page, the same for a partner (its own, through the API's partner
endpoint) and for billing (any partner's, through billing's): a period, the rows with
their totals per currency, and the CSV of the same rows to download."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from dealreg.api.problems import invalid
from dealreg.api.stores import Stores
from dealreg.console.web import Visitor, call, day, render


def period(start: str | None, end: str | None) -> tuple[date, date]:
    """The period of a statement form: from the first day of this year to today unless
    the form says otherwise."""
    today = datetime.now(UTC).date()
    first = day(start, "from") or today.replace(month=1, day=1)
    last = day(end, "to") or today
    if first > last:
        raise invalid("to", f"must not be before from ({first.isoformat()})", "query")
    return first, last


async def statement_page(request: Request, found: Visitor, read: Stores,
                         endpoint: Callable[..., Any], partner_id: str | None,
                         start: str | None, end: str | None, *, csv: bool = False
                         ) -> Response:
    """The statement of ``partner_id`` (None: the signed-in partner's) as a page, or its
    CSV when ``csv``."""
    first, last = period(start, end)
    arguments = {"partner_id": partner_id} if partner_id is not None else {}
    answer = await call(endpoint, found.who, request=request, read=read, start=first,
                        end=last, format="csv" if csv else "json", **arguments)
    if csv:
        assert isinstance(answer, Response)
        return answer
    here = request.url.path.removesuffix(".csv")
    download = f"{here}.csv?" + urlencode(arguments | {"from": first.isoformat(),
                                                       "to": last.isoformat()})
    return render(request, "statement.html", found, statement=answer, start=first, end=last,
                  partner_id=partner_id, download=download)
