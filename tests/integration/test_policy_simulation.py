"""What a policy would change if it were published (``dealreg policy simulate``), computed
from the payouts service's store without publishing it, is exactly what the payouts
service emits once it is published: the three services wired in memory on real stores."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.events.schemas import parse_event
from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.services.payouts.reports import simulate_policy
from dealreg.services.program_policy import stored_policies
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.bus import InMemoryBus

#: A retroactive policy raising rates from April 1st, published on June 1st.
RETROACTIVE = ev.policy_published(
    "summer-boost", version=1, effective_from="2026-04-01T00:00:00Z", retroactive=True,
    time="2026-06-01T00:00:00Z",
    commission_rates={"referral": {"gold": "0.30", "silver": "0.22"},
                      "reseller": {"silver": "0.26"}},
    co_sell_split={"partner_sourced": "0.75", "direct_sourced": "0.25"},
    revenue_share_rates={"msp": {"gold": "0.22"}})


@pytest.fixture
def bus(settings: Settings) -> Iterator[InMemoryBus]:
    """A program with deals of every kind, closed before and after April 1st, on each kind
    of store."""
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    for partner_id, program, tier in (("p-north", "referral", "gold"),
                                      ("p-south", "reseller", "silver"),
                                      ("p-msp", "msp", "gold"), ("p-co", "referral", "silver")):
        bus.send("partners.v1", ev.partner_enrolled(partner_id, program=program, tier=tier))
    for registration_id, partner_id, domain in (
            ("r-1", "p-north", "acme.example"), ("r-2", "p-south", "beta.example"),
            ("r-3", "p-msp", "gamma.example"), ("r-4", "p-north", "delta.example"),
            ("r-6", "p-south", "zeta.example")):
        bus.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, domain=domain, submitted_at="2026-03-01T00:00:00Z"))
    deals: list[tuple[str, str, str, dict[str, Any]]] = [
        ("d-1", "acme.example", "2026-04-10T00:00:00Z", {"registration_id": "r-1"}),
        ("d-2", "beta.example", "2026-04-12T00:00:00Z",
         {"registration_id": "r-2", "co_sell": True, "currency": "USD"}),
        ("d-3", "gamma.example", "2026-04-15T00:00:00Z", {"registration_id": "r-3"}),
        ("d-4", "delta.example", "2026-03-20T00:00:00Z", {"registration_id": "r-4"}),
        ("d-5", "epsilon.example", "2026-04-18T00:00:00Z",
         {"co_sell": True, "co_sell_partner_id": "p-co"}),
        ("d-6", "zeta.example", "2026-04-20T00:00:00Z", {"registration_id": "r-6"}),
    ]
    for deal_id, domain, closed_at, extra in deals:
        bus.send("crm.v1", ev.deal_closed(deal_id, domain=domain, closed_at=closed_at, **extra))
    bus.send("crm.v1", ev.subscription_invoiced("i-1", "d-3", amount="4000.00"))
    bus.send("crm.v1", ev.deal_refunded("d-6", "2026-05-01T00:00:00Z"))
    for adjustment_id, deal_id, partner_id in (("a-1", "d-1", "p-north"),
                                               ("a-2", "d-1", "p-co")):
        bus.send("salesops.v1", ev.adjustment_requested(adjustment_id, deal_id, partner_id))
    assert bus.rejected == []
    yield bus
    bus.close()


def policy_data(document: dict[str, Any]) -> PolicyPublished:
    data = parse_event(ev.encode(document), "program.v1").data
    assert isinstance(data, PolicyPublished)
    return data


def published_adjustments(bus: InMemoryBus, since: int) -> dict[tuple[str, str], Any]:
    """``data`` of each payout.adjusted emitted after the first ``since`` events."""
    return {(event["data"]["deal_id"], event["data"]["partner_id"]): event["data"]
            for topic, event in bus.published[since:]
            if topic == "payouts.v1" and event["type"] == "dealreg.payout.adjusted.v1"}


def test_the_simulation_of_a_retroactive_policy_is_what_publishing_it_emits(
        bus: InMemoryBus) -> None:
    payouts = bus.app("payouts")
    stored = payouts.recorder.max_notification_id()
    changes = simulate_policy(payouts, policy_data(RETROACTIVE))
    assert changes is not None
    assert payouts.recorder.max_notification_id() == stored  # nothing stored
    assert [p.policy_id for p in stored_policies(payouts)] == ["default"]

    before = len(bus.published)
    bus.send("program.v1", RETROACTIVE)  # the service's own application, simulated on above
    adjusted = published_adjustments(bus, before)

    by_pair = {(c.deal_id, c.partner_id): c for c in changes}
    # every deal closed since April 1st whose computed lines the policy changes; not d-4
    # (closed before), d-6 (refunded) or p-co's manual-only share of d-1
    assert sorted(by_pair) == [("d-1", "p-north"), ("d-2", "p-south"), ("d-3", "p-msp"),
                               ("d-5", "p-co")]
    assert sorted(adjusted) == sorted(by_pair)
    for pair, data in adjusted.items():
        change = by_pair[pair]
        assert data["reason"] == "policy_retroactive"
        assert data["delta"] == money(change.delta, change.currency)
        assert data["new_total"] == money(change.simulated, change.currency)
    north = by_pair["d-1", "p-north"]  # 0.25 → 0.30 of 100,000.00, plus the manual 150.00
    assert (north.current, north.simulated, north.delta) == (
        Decimal("25150.00"), Decimal("30150.00"), Decimal("5000.00"))
    assert by_pair["d-2", "p-south"].currency == "USD"


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(amount, "f"), "currency": currency}


def test_a_policy_that_is_not_retroactive_changes_nothing_already_closed(
        bus: InMemoryBus) -> None:
    later = ev.policy_published("autumn", version=1, effective_from="2026-09-01T00:00:00Z",
                                time="2026-06-01T00:00:00Z",
                                commission_rates={"referral": {"gold": "0.40"}})
    assert simulate_policy(bus.app("payouts"), policy_data(later)) == []
    before = len(bus.published)
    bus.send("program.v1", later)
    assert published_adjustments(bus, before) == {}


def test_a_policy_already_published_changes_nothing_again(bus: InMemoryBus) -> None:
    bus.send("program.v1", RETROACTIVE)
    assert simulate_policy(bus.app("payouts"), policy_data(RETROACTIVE)) is None

