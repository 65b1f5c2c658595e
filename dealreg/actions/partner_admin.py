"""What partner admins send on ``partners.v1``: a partner enrolled, a partner's new tier."""

from __future__ import annotations

from datetime import datetime

from dealreg.actions import Outgoing
from dealreg.events.schemas.values import format_utc

PARTNER_ADMIN = "/partner-admin"


def enrollment(partner_id: str, *, name: str, program: str, tier: str,
               at: datetime) -> Outgoing:
    """``partner.enrolled``: the partner may register deals from ``at``."""
    return Outgoing(
        "partner.enrolled",
        {"partner_id": partner_id, "name": name, "program": program, "tier": tier,
         "enrolled_at": format_utc(at)},
        at, PARTNER_ADMIN,
        f"partner {partner_id} ({name}) enrolled in the {program} program as {tier} from "
        f"{format_utc(at)}",
        {"partner_id": "PARTNER_ID", "name": "--name"})


def tier_change(partner_id: str, tier: str, *, effective: datetime) -> Outgoing:
    """``partner.tier_changed``, effective at an instant that may be in the past."""
    return Outgoing(
        "partner.tier_changed",
        {"partner_id": partner_id, "tier": tier, "effective_at": format_utc(effective)},
        effective, PARTNER_ADMIN,
        f"partner {partner_id} is {tier} from {format_utc(effective)}",
        {"partner_id": "PARTNER_ID"})
