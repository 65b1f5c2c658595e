"""A generated history for tests that need thousands of events from the real handlers:
submissions out of business-time order, direct opportunities, partner-raised disputes and
their settlements for partners of every tier, and optionally won deals and refunds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from dealreg.services.conflict import salesops
from dealreg.services.registration.domain import DealRegistration
from tests.support import events as ev
from tests.support.bus import InMemoryBus

START = datetime(2026, 1, 10, tzinfo=UTC)
PARTNERS = {"p-0": "bronze", "p-1": "silver", "p-2": "gold", "p-3": "platinum"}


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def generated_history(bus: InMemoryBus, registrations: int, seed: int = 11) -> None:
    """Submissions arriving out of business-time order, direct opportunities, partner-raised
    disputes and their settlements, for partners of every tier."""
    rng = random.Random(seed)
    for partner_id, tier in PARTNERS.items():
        bus.send("partners.v1", ev.partner_enrolled(partner_id, tier=tier,
                                                    enrolled_at="2026-01-01T00:00:00Z"))
    accounts = [f"acct{n}.example" for n in range(registrations // 8)]
    submissions = []
    for n in range(registrations):
        submitted_at = START + timedelta(hours=rng.randint(0, 24 * 200))
        arrival = submitted_at + timedelta(hours=rng.randint(0, 24 * 3))
        submissions.append((arrival, n, submitted_at, rng.choice(accounts),
                            rng.choice(sorted(PARTNERS))))
    submissions.sort()
    for arrival, n, submitted_at, account, partner_id in submissions:
        if rng.random() < 0.05:
            bus.send("crm.v1", ev.opportunity_opened(f"o-{n}", domain=account,
                                                     opened_at=iso(arrival)))
        bus.send("registrations.requests.v1", ev.registration_submitted(
            f"r-{n}", partner_id, domain=account, submitted_at=iso(submitted_at),
            expected_close_date="2027-06-01"))
    registration_app = bus.app("registration")
    for n in range(registrations):
        registration: object = registration_app.repository.get(DealRegistration.create_id(f"r-{n}"))
        assert isinstance(registration, DealRegistration)
        if registration.rejection and registration.rejection[0] == "conflict" and (
            rng.random() < 0.3
        ):
            bus.send("salesops.v1", ev.dispute_raised(
                f"x-{n}", f"r-{n}", raised_at=iso(START + timedelta(days=210))))
    for dispute in salesops.list_disputes(bus.app("conflict"), open_only=True):
        members = dispute["registration_ids"]
        winner = ({"direct": True} if rng.random() < 0.2
                  else {"registration_id": rng.choice(members)})
        bus.send("salesops.v1", ev.dispute_resolved(dispute["dispute_id"], winner,
                                                    resolved_at=iso(START + timedelta(days=220))))


def close_deals(bus: InMemoryBus, registrations: int, seed: int = 5) -> None:
    """Won deals on about half the registered accounts (some co-sold), lost ones, and
    refunds of about one won deal in ten."""
    rng = random.Random(seed)
    registration_app = bus.app("registration")
    won = []
    for n in range(registrations):
        if rng.random() < 0.5:
            continue
        registration: object = registration_app.repository.get(DealRegistration.create_id(f"r-{n}"))
        assert isinstance(registration, DealRegistration)
        closed_at = iso(START + timedelta(days=rng.randint(30, 240)))
        outcome = "won" if rng.random() < 0.8 else "lost"
        amount = f"{rng.randint(5_000, 500_000)}.{rng.randint(0, 99):02d}"
        extra = {"co_sell": True} if rng.random() < 0.1 else {}
        bus.send("crm.v1", ev.deal_closed(
            f"d-{n}", outcome=outcome, closed_at=closed_at, amount=amount, currency="USD",
            domain=registration.domain, registration_id=f"r-{n}", **extra))
        if outcome == "won":
            won.append(f"d-{n}")
    for deal_id in won:
        if rng.random() < 0.1:
            bus.send("crm.v1", ev.deal_refunded(deal_id, iso(START + timedelta(days=300))))
