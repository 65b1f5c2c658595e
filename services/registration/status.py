"""A registration's status as partners and sales ops read it: the registration service's
decision, and whether its protection was withdrawn or has ended."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from dealreg.eventstore import ServiceApplication
from dealreg.services.registration.domain import DealRegistration as R

Status = Literal["submitted", "under_review", "approved", "rejected", "withdrawn", "expired"]
STATUSES: tuple[Status, ...] = ("submitted", "under_review", "approved", "rejected",
                                "withdrawn", "expired")

#: event class → the status it leaves the registration in (``None``: status unchanged)
STATUS: dict[type, Status | None] = {
    R.Submitted: "submitted", R.SubmittedAndReceived: "submitted", R.Approved: "approved",
    R.Rejected: "rejected", R.PutUnderReview: "under_review", R.Extended: None,
    R.Withdrawn: "withdrawn", R.Expired: "expired"}


def status_after(events: Iterable[Any]) -> Status:
    """The status a registration's stored events, in order, leave it in."""
    status: Status = "submitted"
    for event in events:
        status = STATUS.get(type(event)) or status
    return status


def status_of(app: ServiceApplication, registration_id: str) -> Status | None:
    """The status of ``registration_id`` in the registration service's store ``app``, or
    None if it has none of that id."""
    events = list(app.events.get(R.create_id(registration_id)))
    return status_after(events) if events else None
