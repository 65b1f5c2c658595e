"""The chaos workload's reference agrees with the services (in memory, no faults): the
expected state the chaos suite compares with is the contract's, not a copy of the code's."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from chaos.compare import FinalState
from chaos.workload import PHASES, ObservedDisputes, Workload
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

    phases: dict[str, int] = {}
    for phase in workload.phases(observed):
        phases[phase.name] = len(phase.messages)
        for message in phase.messages:
            bus.send(message.topic, json.loads(message.value))

    assert list(phases) == list(PHASES)
    assert bus.rejected == []
    payouts = [event for topic, event in bus.published if topic == "payouts.v1"]
    actual = FinalState.read(bus.app("registration"), bus.app("conflict"),
                             workload.reference.registrations, payouts)
    expected = FinalState.expected(workload.reference)
    assert actual.differences(expected) == []
    # the workload exercises what it claims to
    outcomes = {state[:2] for state in expected.registrations.values()}
    assert {("approved", None), ("rejected", "duplicate"), ("rejected", "conflict"),
            ("rejected", "invalid"), ("rejected", "unknown_partner"),
            ("rejected", "dispute_lost"), ("rejected", "over_capacity")} <= outcomes
    assert {kind for kind, _ in expected.disputes} == {
        "late_earlier_submission", "partner_vs_direct", "partner_vs_partner"}
    assert "direct" in expected.disputes.values()
    assert any(state[3] is not None for state in expected.registrations.values())
    assert len(expected.ledger) > 100
    assert phases["refunds"] > 0
    assert phases["claims"] > 0
    # contract 1.1: late direct opportunities disputed, revenue share, manual adjustments
    late = workload.late_opportunities
    assert any(d.kind == "partner_vs_direct" and d.account in late and d.winner == "direct"
               for d in workload.reference.disputes)
    lines = Counter(line["kind"] for event in payouts for line in event["data"].get("lines", []))
    assert lines["revenue_share"] > 20
    assert lines["manual"] > 10
    calculated = [event["data"] for event in payouts
                  if event["type"] == "dealreg.payout.calculated.v1"]
    assert sum(1 for data in calculated if data["invoice_id"]) > 20  # invoices after deals
    assert any(data["invoice_id"] is None and data["lines"][-1]["kind"] == "revenue_share"
               for data in calculated)  # invoices before their deal
    assert {"policy_retroactive", "refund", "manual"} <= {
        event["data"]["reason"] for event in payouts
        if event["type"] == "dealreg.payout.adjusted.v1"}
    assert set(expected.adjustments.values()) == {
        "accepted", "unknown_deal", "deal_not_won", "unknown_partner", "currency_mismatch"}
    invoices = workload.reference.invoices
    assert {"last", "after", "eur"} <= {invoice_id.rsplit("-", 1)[1] for invoice_id in invoices}
    refunded = set(workload.refunded)  # manual amounts stay, revenue share goes
    assert refunded & set(workload.adjusted)
    assert refunded & set(workload.invoiced)
