"""The registry by account: every registration ever made on an account, with its current
status and protection window (current and past claims at a glance)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dealreg.audit import plain
from dealreg.projections.store import Document
from dealreg.services.registration.domain import DealRegistration as R
from dealreg.services.registration.status import STATUS

#: the fields of each event recorded on the claim
SUBMISSION = ("partner_id", "submitted_at", "company_name", "estimated_value", "currency")
FIELDS: dict[type, tuple[str, ...]] = {
    R.Submitted: SUBMISSION,
    R.SubmittedAndReceived: SUBMISSION,
    R.Approved: ("protected_from", "expires_at", "decided_at", "via"),
    R.Rejected: ("reason", "decided_at", "conflicting_registration_id"),
    R.PutUnderReview: ("dispute_id", "decided_at"),
    R.Extended: ("expires_at",),
    R.Withdrawn: ("withdrawn_at",),
    R.Expired: ("expired_at",),
}


class AccountRegistry:
    name = "account_registry"
    sources: Mapping[str, tuple[type, ...]] = {"registration": tuple(STATUS)}

    def keys(self, service: str, event: Any) -> Iterable[str]:
        return [event.account_key]

    def apply(self, docs: dict[str, Document], service: str, event: Any) -> None:
        doc = docs[event.account_key]
        doc["account_key"] = event.account_key
        record(doc.setdefault("claims", {}).setdefault(event.registration_id, {}), event)


def record(claim: Document, event: Any) -> None:
    """What ``event`` says of its registration, in the registration's document."""
    kind = type(event)
    if STATUS[kind] is not None:
        claim["status"] = STATUS[kind]
    claim.update((name, plain(getattr(event, name))) for name in FIELDS[kind])
