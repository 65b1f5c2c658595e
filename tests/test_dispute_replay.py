"""Replaying disputes: the recorded decisions of a generated history are reproduced."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.conflict import salesops
from services.conflict.domain import AccountClaims
from services.conflict.service import CONFLICT
from services.registration.domain import DealRegistration
from services.registration.service import REGISTRATION
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


def test_replay_reproduces_every_decision_of_a_large_generated_history() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    generated_history(bus, registrations=1000)
    conflict = bus.app("conflict")

    assert bus.rejected == []
    checks = [check for key in salesops.account_keys(conflict)
              for check in salesops.replay_account(conflict, key)]
    assert len(checks) == 1000  # one recorded decision per registration
    assert [c for c in checks if not c.reproduced] == []
    outcomes = {check.recorded[0] for check in checks}
    assert outcomes == {"granted", "denied", "dispute", "join"}
    disputes = salesops.list_disputes(conflict)
    assert {d["kind"] for d in disputes} == {
        "late_earlier_submission", "partner_vs_direct", "partner_vs_partner"}
    assert all(d["status"] == "settled" for d in disputes)
    for dispute in disputes[:20]:
        assert salesops.replay(conflict, dispute["dispute_id"])["reproduced"] is True


def test_replay_flags_a_decision_that_the_rules_do_not_reproduce() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    generated_history(bus, registrations=40, seed=3)
    conflict = bus.app("conflict")
    [dispute, *_] = salesops.list_disputes(conflict)
    key = dispute["account_key"]
    # A decision recorded under other rules: the account's first grant, rewritten as a denial.
    claims: object = conflict.repository.get(AccountClaims.create_id(key))
    assert isinstance(claims, AccountClaims)
    first = next(c for c in claims.claims.values() if c.status != "under_review")
    claims.deny(account_key=key, registration_id="r-forged", partner_id=first.partner_id,
                submitted_at=first.submitted_at, program="referral", tier="gold",
                reason="duplicate", conflicting_registration_id=None, rule=2)
    conflict.save(claims)

    result = salesops.replay(conflict, dispute["dispute_id"])
    assert result["reproduced"] is False
    [forged] = [d for d in result["decisions"] if d["registration_id"] == "r-forged"]
    assert forged["reproduced"] is False
    assert forged["recorded"] == ("denied", "duplicate", None)
