"""Billing's endpoints: any partner's statement, and the payouts due by a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dealreg.api.auth import Admits, Caller, stores
from dealreg.api.statements import Format, statement
from dealreg.api.stores import Stores
from dealreg.services.payouts import reports

router = APIRouter(tags=["billing"])
Billing = Annotated[Caller, Depends(Admits("billing"))]
Read = Annotated[Stores, Depends(stores)]


@router.get("/statements/{partner_id}", responses={200: {"content": {"text/csv": {}}}})
def partner_statement(request: Request, partner_id: str, who: Billing, read: Read,
                      start: Annotated[date, Query(alias="from")],
                      end: Annotated[date, Query(alias="to")],
                      format: Format | None = None) -> Any:
    """A partner's payouts and adjustments dated from ``from`` to ``to`` (inclusive), with
    the totals per currency, as ``dealreg payouts statement``; CSV with ``Accept:
    text/csv`` or ``format=csv``."""
    return statement(request, read, partner_id, start, end, format)


@router.get("/payouts/due")
def payouts_due(who: Billing, read: Read,
                until: Annotated[date, Query()]) -> dict[str, Any]:
    """Every payout event whose ``payable_on`` is ``until`` or earlier, as billing received
    it on payouts.v1, with the amount it moves (a payout's total, an adjustment's delta:
    negative for a clawback)."""
    return {"until": until.isoformat(), "payouts": reports.due(read.payouts, until)}
