"""Rule 5 applied late (docs/contract.md §5): a direct opportunity opened at or before a
registration's submission but read after its approval opens the same dispute as had it been
read first, and the registration keeps its protection until the dispute is settled."""

from __future__ import annotations

from typing import Any

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from tests.support import events as ev
from tests.support.bus import InMemoryBus

SUBMITTED_AT = "2026-03-05T00:00:00Z"


def events_of(bus: InMemoryBus, type_name: str) -> list[dict[str, Any]]:
    return [e["data"] for _, e in bus.published if e["type"] == f"dealreg.{type_name}.v1"]


def scenario(*, opportunity_first: bool, opened_at: str = "2026-03-01T00:00:00Z"
             ) -> InMemoryBus:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])
    bus.send("partners.v1", ev.partner_enrolled("p-1"))
    opportunity = ev.opportunity_opened("o-1", opened_at=opened_at)
    if opportunity_first:
        bus.send("crm.v1", opportunity)
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-1", submitted_at=SUBMITTED_AT))
    if not opportunity_first:
        bus.send("crm.v1", opportunity)
    return bus


def test_an_opportunity_read_after_the_approval_opens_a_partner_vs_direct_dispute() -> None:
    bus = scenario(opportunity_first=False)
    [conflict] = events_of(bus, "conflict.detected")
    assert conflict["kind"] == "partner_vs_direct"
    assert conflict["registration_ids"] == ["r-1"]
    assert conflict["opportunity_ids"] == ["o-1"]
    [dispute] = events_of(bus, "dispute.opened")
    assert dispute["kind"] == "partner_vs_direct"
    assert events_of(bus, "registration.under_review") == []  # r-1 stays protected
    assert [a["registration_id"] for a in events_of(bus, "registration.approved")] == ["r-1"]
    bus.close()


def test_the_dispute_is_the_same_whichever_topic_was_read_first() -> None:
    late, first = scenario(opportunity_first=False), scenario(opportunity_first=True)
    assert events_of(late, "dispute.opened") == events_of(first, "dispute.opened")
    assert events_of(late, "conflict.detected") == events_of(first, "conflict.detected")
    late.close()
    first.close()


def test_an_opportunity_opened_at_the_submission_instant_is_rule_5_too() -> None:
    bus = scenario(opportunity_first=False, opened_at=SUBMITTED_AT)
    assert [c["kind"] for c in events_of(bus, "conflict.detected")] == ["partner_vs_direct"]
    bus.close()


def test_an_opportunity_opened_after_the_submission_only_meets_a_protected_partner() -> None:
    bus = scenario(opportunity_first=False, opened_at="2026-03-06T00:00:00Z")
    assert [c["kind"] for c in events_of(bus, "conflict.detected")] == ["partner_protected"]
    assert events_of(bus, "dispute.opened") == []
    bus.close()


def test_the_registration_is_paid_until_the_direct_team_wins_the_dispute() -> None:
    bus = scenario(opportunity_first=False)
    bus.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-04-01T00:00:00Z",
                                      registration_id="r-1"))
    [paid] = events_of(bus, "payout.calculated")
    assert paid["partner_id"] == "p-1"
    [dispute] = events_of(bus, "dispute.opened")
    bus.send("salesops.v1", ev.dispute_resolved(dispute["dispute_id"], {"direct": True},
                                                resolved_at="2026-04-05T00:00:00Z"))
    [lost] = events_of(bus, "registration.rejected")
    assert lost["reason"] == "dispute_lost"
    [taken_back] = events_of(bus, "payout.adjusted")
    assert taken_back["new_total"]["amount"] == "0.00"
    assert taken_back["reason"] == "dispute_settled"
    bus.close()


def test_a_withdrawn_registration_is_not_disputed_late() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    bus.send("partners.v1", ev.partner_enrolled("p-1"))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-1", submitted_at=SUBMITTED_AT))
    bus.send("registrations.requests.v1", ev.withdrawal_requested(
        "r-1", "p-1", "2026-03-10T00:00:00Z"))
    bus.send("crm.v1", ev.opportunity_opened("o-1", opened_at="2026-03-01T00:00:00Z"))
    assert events_of(bus, "dispute.opened") == []
    bus.close()
