"""Billing's pages: any partner's statement (and its CSV), and the payouts due by a date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from dealreg.api import billing as api
from dealreg.console.statements import statement_page
from dealreg.console.web import MENU, Link, Read, Signed, call, day, optional, permit, render

router = APIRouter()
MENU.extend([Link("Statements", "/statements", api.partner_statement),
             Link("Payouts due", "/payouts/due", api.payouts_due)])
PartnerQuery = Annotated[str | None, Query(max_length=200)]
DateQuery = Annotated[str | None, Query()]


@router.get("/statements", include_in_schema=False)
async def statements(request: Request, found: Signed, read: Read,
                     partner_id: PartnerQuery = None,
                     start: Annotated[str | None, Query(alias="from")] = None,
                     end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    """The statement of the partner the form names (the form alone until it names one)."""
    if not optional(partner_id):
        permit(api.partner_statement, found.who)
        return render(request, "statement.html", found, statement=None, partner_id="",
                      start=day(start, "from"), end=day(end, "to"), download=None)
    assert partner_id is not None
    return await statement_page(request, found, read, api.partner_statement,
                                partner_id.strip(), start, end)


@router.get("/statements.csv", include_in_schema=False)
async def statement_csv(request: Request, found: Signed, read: Read,
                        partner_id: Annotated[str, Query(min_length=1, max_length=200)],
                        start: Annotated[str | None, Query(alias="from")] = None,
                        end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    return await statement_page(request, found, read, api.partner_statement,
                                partner_id.strip(), start, end, csv=True)


@router.get("/payouts/due", include_in_schema=False)
async def payouts_due(request: Request, found: Signed, read: Read,
                      until: DateQuery = None) -> Response:
    on = day(until, "until") or datetime.now(UTC).date()
    due = await call(api.payouts_due, found.who, read=read, until=on)
    return render(request, "due.html", found, until=on, payouts=due["payouts"])
