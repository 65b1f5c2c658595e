"""Replaying disputes: the recorded decisions of a generated history are reproduced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dealreg.bootstrap import CONFLICT, REGISTRATION
from dealreg.services.conflict import salesops
from dealreg.services.conflict.domain import AccountClaims, AccountOf
from dealreg.services.registration.status import status_of
from tests.support import events as ev
from tests.support.bus import InMemoryBus
from tests.support.history import generated_history


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


def r_2_denied_for_r_1() -> InMemoryBus:
    """p-b's r-2 on acme.example, denied for p-a's r-1, submitted a day earlier."""
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    for partner_id in ("p-a", "p-b"):
        bus.send("partners.v1", ev.partner_enrolled(partner_id))
    for registration_id, partner_id, day in (("r-1", "p-a", "01"), ("r-2", "p-b", "02")):
        bus.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, submitted_at=f"2026-03-{day}T00:00:00Z"))
    return bus


def test_a_dispute_keeps_the_partners_case_and_who_resolved_it_and_why() -> None:
    bus = r_2_denied_for_r_1()
    bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-03-06T00:00:00Z"))
    conflict = bus.app("conflict")
    assert salesops.case(conflict, "x-1") == {"dispute_id": "x-1", "resolution": None,
                                              "evidence": [{
        "registration_id": "r-2", "partner_id": "p-b", "raised_at": datetime(2026, 3, 6,
                                                                             tzinfo=UTC),
        "evidence": "We met the buyer first; see the attached meeting notes."}]}

    bus.send("salesops.v1", ev.dispute_resolved("x-1", {"registration_id": "r-2"}))
    assert salesops.case(conflict, "x-1")["resolution"] == {
        "winner": {"registration_id": "r-2"}, "resolved_by": "ops-lead-1",
        "rationale": "Partner evidence predates the opportunity.",
        "settled_at": datetime(2026, 3, 10, tzinfo=UTC)}
    [settled] = [e for e in salesops.timeline(conflict, "x-1")["timeline"]
                 if e["event"] == "DisputeSettled"]
    assert settled["facts"]["resolved_by"] == "ops-lead-1"


def test_a_dispute_the_rules_opened_has_no_case_until_it_is_resolved() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    generated_history(bus, registrations=40, seed=3)
    conflict = bus.app("conflict")
    opened = [d for d in salesops.list_disputes(conflict) if d["kind"] != "partner_vs_partner"]
    assert opened
    for dispute in opened:
        assert salesops.case(conflict, dispute["dispute_id"])["evidence"] == []


def test_only_a_denied_registration_is_indexed_and_disputing_another_is_bad_input() -> None:
    """``dispute.raised`` names only a registration, and only a denial can be disputed: the
    conflict service stores the account of a denied registration, not of a granted one
    (one stored event fewer per approval), and a dispute of anything else is rejected
    naming the field."""
    bus = r_2_denied_for_r_1()
    conflict = bus.app("conflict")
    assert conflict.stored(AccountOf.create_id("registration", "r-1")) is None  # granted
    denied = conflict.stored(AccountOf.create_id("registration", "r-2"))
    assert isinstance(denied, AccountOf)
    assert denied.account_key == "domain:acme.example"

    bus.send("salesops.v1", ev.dispute_raised("x-1", "r-1"))
    bus.send("salesops.v1", ev.dispute_raised("x-2", "r-9"))
    assert len(bus.rejected) == 2
    assert "data.registration_id: no registration 'r-1' denied for a conflict" in bus.rejected[0]
    assert "data.registration_id: no registration 'r-9' denied for a conflict" in bus.rejected[1]
    assert salesops.list_disputes(conflict) == []
    with pytest.raises(salesops.NotFoundError, match="no registration 'r-1' denied"):
        salesops.raisable(conflict, "r-1", "x-1")
    registration = bus.app("registration")  # where the command line reads why instead
    assert status_of(registration, "r-1") == "approved"
    assert status_of(registration, "r-9") is None
