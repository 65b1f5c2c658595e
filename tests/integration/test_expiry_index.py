"""The expiry scheduler's index reads each stretch of the log once, however little of it
concerns expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from eventsourcing.persistence import Tracking

from dealreg.bootstrap import REGISTRATION
from dealreg.services.registration.domain import DealRegistration
from dealreg.services.registration.expiry import ExpiryIndex
from dealreg.settings import Settings

SUBMITTED = datetime(2026, 3, 1, tzinfo=UTC)


def registration(number: int) -> DealRegistration:
    return DealRegistration(
        registration_id=f"r-{number}", partner_id="p-1", account_key=f"name:US:acme{number}",
        submitted_at=SUBMITTED, company_name=f"Acme {number}", domain=None, country="US",
        segment="smb", contact_name="A", contact_email="a@example.com",
        estimated_value=Decimal("1000.00"), currency="USD",
        expected_close_date=date(2026, 9, 1))


def test_the_index_moves_past_events_that_do_not_concern_expiry(settings: Settings) -> None:
    app = REGISTRATION.build_application(settings)
    index = ExpiryIndex()
    submitted = [registration(n) for n in range(3)]
    app.record(submitted, Tracking("t", 1))
    index.catch_up(app)
    assert index.position == app.recorder.max_notification_id()  # nothing to expire, read
    assert index.pending == {}

    approved = submitted[1]
    approved.approve(expires_at=SUBMITTED + timedelta(days=30), window_days=30,
                     policy_id="default", policy_version=1, via="auto", decided_at=SUBMITTED)
    app.record([approved], Tracking("t", 2))
    app.record([registration(9)], Tracking("t", 3))  # the log ends with another submission
    index.catch_up(app)
    assert index.pending == {"r-1": SUBMITTED + timedelta(days=30)}
    assert index.position == app.recorder.max_notification_id()
    assert index.due(SUBMITTED + timedelta(days=31)) == ["r-1"]
    app.close()
