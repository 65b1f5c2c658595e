"""Rule 2b (docs/contract.md §8): registration capacity through the services wired in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dealreg.bootstrap import CONFLICT, REGISTRATION
from dealreg.services.registration.expiry import ExpiryIndex, expire_due
from tests.support import events as ev
from tests.support.bus import InMemoryBus


@pytest.fixture
def bus() -> Iterator[InMemoryBus]:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    bus.send("program.v1", ev.policy_published(
        "capped", effective_from="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00Z",
        registration_capacity={"referral": {"gold": 2}}))
    bus.send("partners.v1", ev.partner_enrolled("p-1"))  # referral gold: 45-day windows
    yield bus
    bus.close()


def submit(bus: InMemoryBus, registration_id: str, domain: str, submitted_at: str) -> None:
    bus.send("registrations.requests.v1", ev.registration_submitted(
        registration_id, "p-1", domain=domain, submitted_at=submitted_at,
        expected_close_date="2026-09-01"))


def outcome(bus: InMemoryBus, registration_id: str) -> tuple[str, str | None]:
    """The last decision on the registration: (event type, rejection detail)."""
    decisions = [e for topic, e in bus.published if topic == "registrations.v1"
                 and e["subject"] == registration_id
                 and e["type"] != "dealreg.registration.received.v1"]
    last = decisions[-1]
    return last["type"].split(".")[2], last["data"].get("detail")


def two_held(bus: InMemoryBus) -> None:
    submit(bus, "r-1", "acme.example", "2026-03-01T00:00:00Z")  # protected to 04-15
    submit(bus, "r-2", "globex.example", "2026-03-02T00:00:00Z")


def test_a_partner_at_its_capacity_is_rejected_with_the_count_and_the_limit(
        bus: InMemoryBus) -> None:
    two_held(bus)
    submit(bus, "r-3", "initech.example", "2026-03-03T00:00:00Z")
    assert outcome(bus, "r-1")[0] == "approved"
    assert outcome(bus, "r-3") == ("rejected", "partner p-1 holds 2 open registrations; "
                                               "capacity 2")
    rejected = [e["data"] for _, e in bus.published
                if e["type"] == "dealreg.registration.rejected.v1"]
    assert rejected[-1]["reason"] == "over_capacity"


def test_a_duplicate_on_the_same_account_is_still_a_duplicate_at_capacity(
        bus: InMemoryBus) -> None:
    two_held(bus)
    submit(bus, "r-3", "acme.example", "2026-03-03T00:00:00Z")
    rejected = [e["data"] for _, e in bus.published
                if e["type"] == "dealreg.registration.rejected.v1"]
    assert rejected[-1]["registration_id"] == "r-3"
    assert rejected[-1]["reason"] == "duplicate"


def test_a_withdrawal_frees_a_place_from_its_instant(bus: InMemoryBus) -> None:
    two_held(bus)
    bus.send("registrations.requests.v1", ev.withdrawal_requested(
        "r-1", "p-1", "2026-03-10T00:00:00Z"))
    submit(bus, "r-early", "initech.example", "2026-03-09T00:00:00Z")  # before it: still held
    submit(bus, "r-late", "hooli.example", "2026-03-10T00:00:00Z")
    assert outcome(bus, "r-early")[0] == "rejected"
    assert outcome(bus, "r-late")[0] == "approved"


def test_the_end_of_a_window_in_business_time_frees_its_place(bus: InMemoryBus) -> None:
    two_held(bus)
    submit(bus, "r-3", "initech.example", "2026-04-15T00:00:00Z")  # r-1's last instant
    submit(bus, "r-4", "hooli.example", "2026-04-15T00:00:01Z")
    assert outcome(bus, "r-3")[0] == "rejected"
    assert outcome(bus, "r-4")[0] == "approved"


def test_the_wall_clock_expiry_of_a_window_changes_no_decision(bus: InMemoryBus) -> None:
    two_held(bus)
    index = ExpiryIndex()
    index.catch_up(bus.app("registration"))
    assert expire_due(bus.app("registration"), index,
                      datetime(2026, 12, 1, tzinfo=UTC)) == ["r-1", "r-2"]
    # submitted while r-1 and r-2 were still protected, read after they were announced expired
    submit(bus, "r-3", "initech.example", "2026-04-01T00:00:00Z")
    assert outcome(bus, "r-3")[0] == "rejected"


def test_a_rejected_registration_holds_no_place(bus: InMemoryBus) -> None:
    bus.send("partners.v1", ev.partner_enrolled("p-other"))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-other", "p-other", domain="acme.example", submitted_at="2026-02-01T00:00:00Z",
        expected_close_date="2026-09-01"))
    submit(bus, "r-1", "acme.example", "2026-03-01T00:00:00Z")  # conflict: p-other holds it
    submit(bus, "r-2", "globex.example", "2026-03-02T00:00:00Z")
    submit(bus, "r-3", "initech.example", "2026-03-03T00:00:00Z")
    assert outcome(bus, "r-1")[0] == "rejected"
    assert outcome(bus, "r-3")[0] == "approved"


def test_without_a_capacity_in_the_policy_there_is_no_limit() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    bus.send("partners.v1", ev.partner_enrolled("p-1"))
    for n in range(30):
        submit(bus, f"r-{n}", f"company{n}.example", "2026-03-01T00:00:00Z")
    assert all(outcome(bus, f"r-{n}")[0] == "approved" for n in range(30))
    bus.close()
