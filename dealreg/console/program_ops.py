"""Program ops' pages: the program policy in force as of a date, and the forms that enroll
a partner and change a partner's tier."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from dealreg.api import program_ops as api
from dealreg.api.problems import ProblemError
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
    permit,
    render,
    text,
)
from dealreg.events.schemas.values import Program, Tier

router = APIRouter()
MENU.extend([Link("Policy", "/policy", api.policy),
             Link("Partners", "/enrollments", api.enroll_partner)])
PROGRAMS, TIERS = get_args(Program), get_args(Tier)


@router.get("/policy", include_in_schema=False)
async def policy_page(request: Request, found: Signed, read: Read,
                      at: Annotated[str | None, Query()] = None) -> Response:
    """The policy in force at the end of a date (default: now)."""
    on = day(at, "at")
    policy = await call(api.policy, found.who, read=read, at=end_of(on) if on else None)
    return render(request, "policy.html", found, policy=policy, at=on)


def _page(request: Request, found: Signed, *, code: int = 200, **context: Any) -> Response:
    context = {"values": {}, "errors": {}, "tier_values": {}, "tier_errors": {}} | context
    return render(request, "enrollments.html", found, code=code, programs=PROGRAMS,
                  tiers=TIERS, **context)


@router.get("/enrollments", include_in_schema=False)
async def enrollments(request: Request, found: Signed, sent: str | None = None) -> Response:
    permit(api.enroll_partner, found.who)
    return _page(request, found, sent=sent)


@router.post("/enrollments", include_in_schema=False)
async def enroll(request: Request, found: Signed, read: Read, posted: Form) -> Response:
    """Send ``partner.enrolled`` as the API does."""
    values = {name: text(posted, name) for name in ("partner_id", "name", "program", "tier")}
    try:
        await call(api.enroll_partner, found.who, read=read,
                   body=body(api.EnrollmentRequest, values))
    except ProblemError as refused:
        if refused.status != 422:
            raise
        return _page(request, found, code=422, values=values, errors=field_errors(refused))
    return RedirectResponse("/enrollments?sent=enrolled", status_code=303)


@router.post("/tiers", include_in_schema=False)
async def change_tier(request: Request, found: Signed, read: Read, posted: Form) -> Response:
    """Send ``partner.tier_changed`` as the API does, effective at the start of a date."""
    values = {name: text(posted, name) for name in ("partner_id", "tier", "effective_on")}
    try:
        on = day(values["effective_on"], "effective_on")
        fields = {"tier": values["tier"],
                  "effective_at": f"{on.isoformat()}T00:00:00Z" if on else ""}
        await call(api.change_tier, found.who, read=read, partner_id=values["partner_id"],
                   body=body(api.TierChangeRequest, fields))
    except ProblemError as refused:
        if refused.status != 422:
            raise
        errors = field_errors(refused)
        if "effective_at" in errors:
            errors["effective_on"] = errors.pop("effective_at")
        return _page(request, found, code=422, tier_values=values, tier_errors=errors)
    return RedirectResponse("/enrollments?sent=tier", status_code=303)
