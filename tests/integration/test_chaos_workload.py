"""The chaos workload's reference agrees with the services (in memory, no faults): the
expected state the chaos suite compares with is the contract's, not a copy of the code's."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chaos.compare import FinalState
from chaos.workload import ObservedDisputes, Workload
from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.services.conflict import salesops
from tests.support.bus import InMemoryBus


def test_the_services_reach_the_reference_state_on_a_generated_workload() -> None:
    workload = Workload(seed=7, registrations=1_200, deals=400,
                        base=datetime(2026, 6, 1, tzinfo=UTC))
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])

    def observed() -> ObservedDisputes:
        return {(d["kind"], frozenset(d["registration_ids"])): d["dispute_id"]
                for d in salesops.list_disputes(bus.app("conflict"), open_only=True)}

    phases = {}
    for phase in workload.phases(observed):
        phases[phase.name] = len(phase.messages)
        for message in phase.messages:
            bus.send(message.topic, json.loads(message.value))

    assert bus.rejected == []
    actual = FinalState.read(bus.app("registration"), bus.app("conflict"),
                             workload.reference.registrations,
                             [event for topic, event in bus.published if topic == "payouts.v1"])
    expected = FinalState.expected(workload.reference)
    assert actual.differences(expected) == []
    # the workload exercises what it claims to
    outcomes = {state[:2] for state in expected.registrations.values()}
    assert {("approved", None), ("rejected", "duplicate"), ("rejected", "conflict"),
            ("rejected", "invalid"), ("rejected", "unknown_partner"),
            ("rejected", "dispute_lost")} <= outcomes
    assert {kind for kind, _ in expected.disputes} == {
        "late_earlier_submission", "partner_vs_direct", "partner_vs_partner"}
    assert "direct" in expected.disputes.values()
    assert any(state[3] is not None for state in expected.registrations.values())
    assert len(expected.ledger) > 100
    assert phases["refunds"] > 0
    assert phases["claims"] > 0
