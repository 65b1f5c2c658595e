"""A received submission is stored as one event, and publishes exactly what the two events
stored before (``Submitted`` then ``Received``) publish: the wire does not change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from dealreg.services.registration.domain import DealRegistration
from dealreg.services.registration.emissions import emit
from dealreg.services.registration.status import status_after

SUBMISSION: dict[str, Any] = {
    "registration_id": "r-1", "partner_id": "p-1", "account_key": "domain:acme.example",
    "submitted_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "company_name": "Acme",
    "domain": "acme.example", "country": "US", "segment": "smb", "contact_name": "A",
    "contact_email": "a@example.com", "estimated_value": Decimal("1000.50"),
    "currency": "USD", "expected_close_date": date(2026, 9, 1)}


def stored_before() -> DealRegistration:
    """A received registration as earlier versions stored it: two events."""
    registration = DealRegistration(**SUBMISSION)
    registration._received(registration_id="r-1", partner_id="p-1",
                           account_key="domain:acme.example",
                           submitted_at=SUBMISSION["submitted_at"], program="reseller",
                           tier="gold")
    return registration


def test_a_received_submission_is_one_stored_event_with_the_same_state() -> None:
    now = DealRegistration.received(program="reseller", tier="gold", **SUBMISSION)
    before = stored_before()

    assert [type(e).__name__ for e in now.collect_events()] == ["SubmittedAndReceived"]
    assert [type(e).__name__ for e in before.collect_events()] == ["Submitted", "Received"]
    recording = {"_version": 0, "_created_on": None, "_modified_on": None}  # not the state
    assert vars(now) | recording == vars(before) | recording
    assert (now.status, now.program, now.tier) == ("received", "reseller", "gold")


def test_it_publishes_what_the_two_events_stored_before_publish() -> None:
    [now] = DealRegistration.received(program="reseller", tier="gold",
                                      **SUBMISSION).collect_events()
    before = stored_before().collect_events()

    assert [e for event in before for e in emit(event)] == list(emit(now))
    [emission] = emit(now)
    assert emission.name == "registration.received"


def test_partners_read_it_as_submitted_as_before() -> None:
    now = DealRegistration.received(program="reseller", tier="gold", **SUBMISSION)
    assert status_after(now.collect_events()) == status_after(stored_before().collect_events())
