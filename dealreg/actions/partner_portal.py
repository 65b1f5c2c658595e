"""What a partner sends on ``registrations.requests.v1``: a registration submitted, an
extension of its protection asked for, a registration withdrawn."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from dealreg.actions import Outgoing
from dealreg.events.schemas.values import format_utc
from dealreg.identity import business_id

PARTNER_PORTAL = "/partner-portal"


def registration_id(partner_id: str, key: str) -> str:
    """The id of a partner's registration, from a key of the partner's choosing (its
    idempotency key, or the content of the registration): the same key of the same partner
    gives the same id, and no partner can choose, or guess its way to, another's id."""
    return str(business_id("registration.submitted", json.dumps([partner_id, key])))


def submission(registration_id: str, partner_id: str, *, prospect: Mapping[str, Any],
               contact: Mapping[str, Any], estimated_value: Mapping[str, Any],
               expected_close_date: date, at: datetime) -> Outgoing:
    """``registration.submitted``: the partner claims the prospect's account from ``at``."""
    return Outgoing(
        "registration.submitted",
        {"registration_id": registration_id, "partner_id": partner_id,
         "submitted_at": format_utc(at), "prospect": dict(prospect), "contact": dict(contact),
         "estimated_value": dict(estimated_value),
         "expected_close_date": expected_close_date.isoformat()},
        at, PARTNER_PORTAL,
        f"registration {registration_id} of partner {partner_id} submitted; dealreg answers "
        "with registration.received, then approved or rejected, on registrations.v1")


def extension_request(registration_id: str, partner_id: str, *, days: int,
                      at: datetime) -> Outgoing:
    """``registration.extension_requested``: ``days`` more of protection."""
    return Outgoing(
        "registration.extension_requested",
        {"registration_id": registration_id, "partner_id": partner_id, "days": days,
         "requested_at": format_utc(at)},
        at, PARTNER_PORTAL,
        f"{days} more days asked for registration {registration_id}; dealreg answers with "
        "registration.extended or registration.extension_denied on registrations.v1")


def withdrawal(registration_id: str, partner_id: str, *, at: datetime) -> Outgoing:
    """``registration.withdrawn`` as the portal sends it: protection ends at ``at``."""
    return Outgoing(
        "registration.withdrawn",
        {"registration_id": registration_id, "partner_id": partner_id,
         "withdrawn_at": format_utc(at)},
        at, PARTNER_PORTAL,
        f"registration {registration_id} withdrawn from {format_utc(at)}; dealreg answers "
        "with registration.withdrawn on registrations.v1")
