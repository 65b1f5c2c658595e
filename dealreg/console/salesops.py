"""Sales ops' pages: the dispute queue (open first, each against the review target), a
dispute (its account's timeline, the replay's verdict, the parties' case, the resolve
form), who held an account as of a date, and partners (the ranking, one partner's
pipeline, revenue, payouts and time to first deal with a chart of its payouts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from dealreg.api import salesops as api
from dealreg.api.pages import Cursor
from dealreg.api.problems import ProblemError
from dealreg.console.charts import payout_bars
from dealreg.console.web import (
    MENU,
    Form,
    Link,
    Read,
    Signed,
    body,
    call,
    day,
    end_of,
    field_errors,
    next_page,
    optional,
    render,
    text,
)

router = APIRouter()
MENU.extend([Link("Disputes", "/disputes", api.list_disputes),
             Link("Accounts", "/accounts", api.read_account),
             Link("Partners", "/partners", api.rank_partners)])


def span(length: timedelta) -> str:
    """A duration in days and hours, as a person reads it: ``2 d 5 h``, ``40 min``."""
    minutes = max(0, int(length.total_seconds() // 60))
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes % 60} min" if hours else f"{minutes} min"


def review(dispute: dict[str, Any], target: timedelta, at: datetime) -> dict[str, Any]:
    """A listed dispute with its age, when its review is due and whether it is overdue."""
    opened = datetime.fromisoformat(dispute["opened_at"])
    settled = datetime.fromisoformat(dispute["settled_at"]) if dispute["settled_at"] else None
    due = opened + target
    late = (settled or at) - due
    return dispute | {"age": span((settled or at) - opened), "due_at": due,
                      "overdue": settled is None and at > due,
                      "late": span(late) if late > timedelta(0) else None}


@router.get("/disputes", include_in_schema=False)
async def queue(request: Request, found: Signed, read: Read,
                status: Literal["open", "settled"] | None = None,
                cursor: Cursor = None) -> Response:
    listed = await call(api.list_disputes, found.who, read=read, status=status,
                        cursor=cursor)
    target = timedelta(hours=read.settings.dispute_review_hours)
    at = datetime.now(UTC)
    disputes = [review(dispute, target, at) for dispute in listed["disputes"]]
    return render(request, "disputes.html", found, disputes=disputes, status=status,
                  target_hours=read.settings.dispute_review_hours,
                  overdue=sum(d["overdue"] for d in disputes),
                  next_page=next_page(request, listed["next_cursor"]))


async def _dispute_page(request: Request, found: Signed, read: Read, dispute_id: str, *,
                        code: int = 200, **context: Any) -> Response:
    dispute = await call(api.read_dispute, found.who, read=read, dispute_id=dispute_id)
    account = await call(api.read_account, found.who, read=read,
                         account=dispute["account_key"], as_of=None)
    parties = [entry for entry in account["registrations"]
               if entry["registration_id"] in dispute["registration_ids"]]
    target = timedelta(hours=read.settings.dispute_review_hours)
    queued = review({"opened_at": dispute["opened_at"], "settled_at": (
        dispute["resolution"] or {}).get("settled_at")}, target, datetime.now(UTC))
    return render(request, "dispute.html", found, code=code, dispute=dispute,
                  account=account, parties=parties, queued=queued,
                  target_hours=read.settings.dispute_review_hours, **context)


@router.get("/disputes/{dispute_id}", include_in_schema=False)
async def dispute_page(request: Request, dispute_id: str, found: Signed, read: Read,
                       sent: bool = False) -> Response:
    return await _dispute_page(request, found, read, dispute_id, sent=sent)


@router.post("/disputes/{dispute_id}/resolution", include_in_schema=False)
async def resolve(request: Request, dispute_id: str, found: Signed, read: Read,
                  posted: Form) -> Response:
    """Send ``dispute.resolved`` as the API does, decided by the signed-in token's holder."""
    winner = text(posted, "winner")
    fields = {"rationale": text(posted, "rationale"),
              **({"direct": True} if winner == "direct" else
                 {"winner_registration_id": optional(winner)})}
    try:
        request_body = body(api.ResolutionRequest, fields)
        await call(api.resolve_dispute, found.who, read=read, dispute_id=dispute_id,
                   body=request_body)
    except ProblemError as refused:
        if refused.status not in (409, 422):
            raise
        return await _dispute_page(request, found, read, dispute_id, code=refused.status,
                                   refused=refused.detail, errors=field_errors(refused),
                                   chosen=winner, rationale=fields["rationale"])
    return RedirectResponse(f"/disputes/{dispute_id}?sent=true", status_code=303)


@router.get("/accounts", include_in_schema=False)
async def account_page(request: Request, found: Signed, read: Read,
                       account: Annotated[str | None, Query(max_length=500)] = None,
                       as_of: Annotated[str | None, Query()] = None) -> Response:
    """Who held an account as of the end of a date (default: now)."""
    on = day(as_of, "as_of")
    held = None
    if optional(account):
        assert account is not None
        held = await call(api.read_account, found.who, read=read, account=account.strip(),
                          as_of=end_of(on) if on else None)
    return render(request, "account.html", found, account=account or "", as_of=on,
                  held=held)


@router.get("/partners", include_in_schema=False)
async def partners_page(request: Request, found: Signed, read: Read,
                        by: Literal["revenue", "win-rate", "time-to-first-deal"] = "revenue",
                        currency: Annotated[str, Query(pattern="^[A-Z]{3}$")] = "USD",
                        ) -> Response:
    ranked = await call(api.rank_partners, found.who, read=read, by=by, limit=100,
                        currency=currency)
    return render(request, "partners.html", found, ranked=ranked)


@router.get("/partners/{partner_id}", include_in_schema=False)
async def partner_page(request: Request, partner_id: str, found: Signed, read: Read
                       ) -> Response:
    partner = await call(api.read_partner, found.who, read=read, partner_id=partner_id)
    return render(request, "partner.html", found, partner=partner,
                  chart=payout_bars(partner["deals"]))
