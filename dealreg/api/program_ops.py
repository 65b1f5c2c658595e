"""Program ops' endpoints: enrolling partners, changing a partner's tier, and the program
policy in force at an instant (``dealreg partners enroll|tier``, ``dealreg policy show``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dealreg.actions import now
from dealreg.actions.partner_admin import enrollment, tier_change
from dealreg.api.auth import Admits, Caller, stores
from dealreg.api.stores import Stores
from dealreg.api.values import Sent, StrictBody, send
from dealreg.events.schemas.values import Id, Name, Program, Tier, UtcDatetime
from dealreg.services.program_policy import in_force, policy_document, stored_policies

router = APIRouter(tags=["program ops"])
ProgramOps = Annotated[Caller, Depends(Admits("program_ops"))]
Read = Annotated[Stores, Depends(stores)]


class EnrollmentRequest(StrictBody):
    partner_id: Id
    name: Name
    program: Program
    tier: Tier
    #: From when it may register deals (default: now).
    enrolled_at: UtcDatetime | None = None


@router.post("/partners", status_code=202)
async def enroll_partner(body: EnrollmentRequest, who: ProgramOps, read: Read) -> Sent:
    """Send ``partner.enrolled``: the partner joins a program at a tier."""
    return await send(enrollment(body.partner_id, name=body.name, program=body.program,
                                 tier=body.tier, at=body.enrolled_at or now()), read.produce)


class TierChangeRequest(StrictBody):
    tier: Tier
    #: From when; may be in the past (deals closed since are recomputed).
    effective_at: UtcDatetime


@router.post("/partners/{partner_id}/tier", status_code=202)
async def change_tier(partner_id: str, body: TierChangeRequest, who: ProgramOps,
                      read: Read) -> Sent:
    """Send ``partner.tier_changed``, effective at an instant that may be in the past."""
    return await send(tier_change(partner_id, body.tier, effective=body.effective_at),
                      read.produce)


@router.get("/policy")
def policy(who: ProgramOps, read: Read,
           at: Annotated[UtcDatetime | None, Query()] = None) -> dict[str, Any]:
    """Every field of the program policy in force at ``at`` (business time, default now),
    from the payouts service's store, as ``dealreg policy show --json``."""
    return policy_document(in_force(stored_policies(read.payouts), at or datetime.now(UTC)))
