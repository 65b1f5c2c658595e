"""Replaying disputes: the recorded decisions of a generated history are reproduced."""

from __future__ import annotations

from dealreg.bootstrap import CONFLICT, REGISTRATION
from dealreg.services.conflict import salesops
from dealreg.services.conflict.domain import AccountClaims
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
