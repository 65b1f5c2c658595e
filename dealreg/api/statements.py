"""A partner's payout statement, as JSON or CSV (``Accept: text/csv`` or ``format=csv``):
the same for the partner (its own) and for billing (any partner's)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import Request, Response

from dealreg.api.problems import invalid
from dealreg.api.stores import Stores
from dealreg.api.values import document, money, moneys
from dealreg.services.payouts import reports

Format = Literal["json", "csv"]
CSV = "text/csv"
JSON = "application/json"


def statement(request: Request, read: Stores, partner_id: str, start: date, end: date,
              format: Format | None) -> Any:
    """The statement of ``partner_id`` from ``start`` to ``end`` (inclusive)."""
    if start > end:
        raise invalid("to", f"must not be before from ({start.isoformat()})", "query")
    found = reports.statement(read.payouts, partner_id, start, end)
    if format == "csv" or (format is None and _prefers_csv(request.headers.get("accept", ""))):
        return Response(reports.statement_csv(found) + "\n", media_type=f"{CSV}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="statement-'
                                 f'{start.isoformat()}-{end.isoformat()}.csv"'})
    return {"partner_id": partner_id, "from": start.isoformat(), "to": end.isoformat(),
            "rows": [document({key: value for key, value in row.items() if key != "currency"}
                              | {"amount": money(row["amount"], row["currency"])})
                     for row in found["rows"]],
            "totals": moneys(found["totals"])}


def _prefers_csv(accept: str) -> bool:
    """The ``Accept`` header names CSV, and names it before JSON if it names JSON at all."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return CSV in kinds and (JSON not in kinds or kinds.index(CSV) < kinds.index(JSON))
