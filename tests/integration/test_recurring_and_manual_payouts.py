"""docs/contract.md §9 (holding, clawback), §10 (manual adjustments) and §11 (recurring revenue
share) through the three services wired in memory: the events billing receives."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from tests.support import events as ev
from tests.support.bus import InMemoryBus

CLOSED_AT = "2026-04-10T00:00:00Z"


@pytest.fixture
def bus() -> Iterator[InMemoryBus]:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])
    yield bus
    bus.close()


def payouts(bus: InMemoryBus, *types: str) -> list[dict[str, Any]]:
    """``data`` of every event on payouts.v1 (of the given types), in order."""
    wanted = {f"dealreg.{t}.v1" for t in types}
    return [event["data"] for topic, event in bus.published
            if topic == "payouts.v1" and (not types or event["type"] in wanted)]


def owned_by(bus: InMemoryBus, partner_id: str, *, program: str = "msp",
             submitted_at: str = "2026-03-01T00:00:00Z", registration_id: str = "r-1") -> None:
    """``partner_id`` enrolled and holding acme.example."""
    bus.send("partners.v1", ev.partner_enrolled(partner_id, program=program))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        registration_id, partner_id, submitted_at=submitted_at))


def close(bus: InMemoryBus, deal_id: str = "d-1", **fields: Any) -> None:
    bus.send("crm.v1", ev.deal_closed(deal_id, closed_at=CLOSED_AT, registration_id="r-1",
                                      **fields))


def invoice(bus: InMemoryBus, invoice_id: str, **fields: Any) -> None:
    bus.send("crm.v1", ev.subscription_invoiced(invoice_id, "d-1", **fields))


def line(kind: str, base: str, rate: str, amount: str, share: str = "1") -> dict[str, Any]:
    return {"kind": kind, "base": {"amount": base, "currency": "EUR"}, "rate": rate,
            "share": share, "amount": {"amount": amount, "currency": "EUR"}}


# ------------------------------------------------------------------ §11 revenue share

def test_an_invoice_after_its_deal_gives_one_payout_of_its_revenue_share(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-1", amount="1000.00", invoiced_at="2026-06-01T08:00:00Z")

    first, share = payouts(bus, "payout.calculated")
    assert first["invoice_id"] is None
    assert first["total"]["amount"] == "0.00"  # msp partners earn no first-year commission
    assert share["invoice_id"] == "inv-1"
    assert share["sequence"] == 2
    assert share["lines"] == [line("revenue_share", "1000.00", "0.20", "200.00")]
    assert share["total"] == {"amount": "200.00", "currency": "EUR"}
    assert share["payable_on"] == "2026-06-01"
    assert share["basis"]["program"] == "msp"
    assert share["basis"]["tier"] == "gold"


def test_an_invoice_before_its_deal_is_a_line_of_the_deals_first_payout(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    invoice(bus, "inv-1", amount="1000.00")
    assert payouts(bus) == []
    close(bus)

    [first] = payouts(bus)
    assert first["invoice_id"] is None
    assert first["lines"] == [line("commission", "100000.00", "0.00", "0.00"),
                              line("revenue_share", "1000.00", "0.20", "200.00")]
    assert first["total"]["amount"] == "200.00"
    assert first["payable_on"] == "2026-04-10"


def test_an_invoice_whose_period_starts_after_the_revenue_share_months_earns_nothing(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-last", period_start="2029-04-09", period_end="2029-05-08",
            invoiced_at="2029-05-09T00:00:00Z")
    invoice(bus, "inv-after", period_start="2029-04-10", period_end="2029-05-09",
            invoiced_at="2029-05-10T00:00:00Z")
    assert [p["invoice_id"] for p in payouts(bus)] == [None, "inv-last"]


def test_an_invoice_in_another_currency_than_its_deal_earns_nothing(bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-usd", currency="USD")
    assert len(payouts(bus)) == 1
    assert bus.rejected == []


def test_a_repeated_invoice_changes_nothing_and_one_with_other_content_is_bad_input(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-1")
    invoice(bus, "inv-1")
    assert len(payouts(bus)) == 2
    assert bus.rejected == []
    invoice(bus, "inv-1", amount="999.00")
    assert len(payouts(bus)) == 2
    [rejected] = bus.rejected
    assert "data.recurring_revenue: invoice 'inv-1' was already received" in rejected
    bus.send("crm.v1", ev.subscription_invoiced("inv-1", "d-2"))
    assert "data.deal_id: invoice 'inv-1' was already received for deal 'd-1'" in bus.rejected[1]


def test_partners_whose_rate_is_zero_see_nothing_of_their_deals_invoices(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    invoice(bus, "inv-1")
    assert [p["invoice_id"] for p in payouts(bus)] == [None]


def test_a_refund_takes_back_the_revenue_share_with_the_commission(bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-1")
    invoice(bus, "inv-2", period_start="2026-06-01", period_end="2026-06-30",
            invoiced_at="2026-07-01T00:00:00Z")
    bus.send("crm.v1", ev.deal_refunded("d-1", "2026-07-15T00:00:00Z"))
    [refund] = payouts(bus, "payout.adjusted")
    assert refund["delta"]["amount"] == "-400.00"
    assert refund["new_total"]["amount"] == "0.00"
    assert refund["reason"] == "refund"
    assert refund["clawback"] is True  # paid on 2026-04-10 (no holding period)


def test_a_dispute_settlement_moves_the_revenue_share_to_the_winner(bus: InMemoryBus) -> None:
    owned_by(bus, "p-a", submitted_at="2026-03-05T00:00:00Z", registration_id="r-a")
    # p-b registered first, but its submission arrives after p-a's approval: a dispute
    bus.send("partners.v1", ev.partner_enrolled("p-b", program="msp"))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-b", "p-b", submitted_at="2026-03-01T00:00:00Z"))
    bus.send("crm.v1", ev.deal_closed("d-1", closed_at=CLOSED_AT, registration_id="r-a"))
    invoice(bus, "inv-1")
    assert {p["partner_id"] for p in payouts(bus)} == {"p-a"}
    dispute_id = next(e["data"]["dispute_id"] for _, e in bus.published
                      if e["type"] == "dealreg.dispute.opened.v1")
    bus.send("salesops.v1", ev.dispute_resolved(dispute_id, {"registration_id": "r-b"},
                                                resolved_at="2026-06-10T00:00:00Z"))

    moved = [p for p in payouts(bus) if p.get("reason") == "dispute_settled"
             or p["partner_id"] == "p-b"]
    loser = next(p for p in moved if p["partner_id"] == "p-a")
    winner = next(p for p in moved if p["partner_id"] == "p-b")
    assert loser["delta"]["amount"] == "-200.00"
    assert loser["clawback"] is True
    assert winner["total"]["amount"] == "200.00"
    assert winner["lines"][-1] == line("revenue_share", "1000.00", "0.20", "200.00")
    assert winner["registration_id"] == "r-b"


def test_a_late_tier_change_moves_the_rate_of_the_invoices_after_it(bus: InMemoryBus) -> None:
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-1")  # May: gold, 0.20
    bus.send("partners.v1", ev.partner_tier_changed("p-msp", "platinum",
                                                    "2026-05-01T00:00:00Z"))
    [adjusted] = payouts(bus, "payout.adjusted")
    assert adjusted["delta"]["amount"] == "50.00"  # 1000 * (0.25 - 0.20)
    assert adjusted["lines"][-1] == line("revenue_share", "1000.00", "0.25", "250.00")
    assert adjusted["basis"]["tier"] == "gold"  # the commission's tier, at the close


# ------------------------------------------------------------------ §9 holding and clawback

def holding(bus: InMemoryBus, days: int) -> None:
    bus.send("program.v1", ev.policy_published("holding", effective_from="2026-01-01T00:00:00Z",
                                               time="2026-01-01T00:00:00Z", holding_days=days))


@pytest.mark.parametrize(("refunded_at", "clawback"), [
    ("2026-05-10T23:59:59Z", False),  # on payable_on: not paid yet
    ("2026-05-11T00:00:00Z", True),   # after it: billing may have paid
])
def test_a_refund_is_a_clawback_only_after_the_holding_period(
        bus: InMemoryBus, refunded_at: str, clawback: bool) -> None:
    holding(bus, 30)
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    [calculated] = payouts(bus)
    assert calculated["payable_on"] == "2026-05-10"
    bus.send("crm.v1", ev.deal_refunded("d-1", refunded_at))
    [refund] = payouts(bus, "payout.adjusted")
    assert refund["payable_on"] == "2026-05-10"
    assert refund["clawback"] is clawback


def test_an_invoice_is_payable_after_the_holding_period_from_its_invoice_date(
        bus: InMemoryBus) -> None:
    holding(bus, 14)
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-1", invoiced_at="2026-06-01T00:00:00Z")
    assert [p["payable_on"] for p in payouts(bus)] == ["2026-04-24", "2026-06-15"]


def test_a_positive_adjustment_is_never_a_clawback(bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-ref",
                                                    requested_at="2027-01-01T00:00:00Z"))
    [manual] = payouts(bus, "payout.adjusted")
    assert manual["clawback"] is False


# ------------------------------------------------------------------ §10 manual adjustments

def test_a_manual_adjustment_is_a_line_that_survives_a_retroactive_policy(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-ref", amount="150.00"))
    [manual] = payouts(bus, "payout.adjusted")
    assert manual["reason"] == "manual"
    assert manual["adjustment_id"] == "adj-1"
    assert manual["delta"]["amount"] == "150.00"
    assert manual["new_total"]["amount"] == "25150.00"
    assert manual["lines"] == [line("commission", "100000.00", "0.25", "25000.00"),
                               line("manual", "150.00", "1", "150.00")]

    bus.send("program.v1", ev.policy_published(
        "summer", effective_from="2026-04-01T00:00:00Z", retroactive=True,
        time="2026-06-01T00:00:00Z", commission_rates={"referral": {"gold": "0.30"}}))
    retro = payouts(bus, "payout.adjusted")[-1]
    assert retro["reason"] == "policy_retroactive"
    assert retro["adjustment_id"] is None
    assert retro["delta"]["amount"] == "5000.00"
    assert retro["new_total"]["amount"] == "30150.00"
    assert retro["lines"][-1] == line("manual", "150.00", "1", "150.00")


def test_a_manual_adjustment_survives_a_refund(bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-ref", amount="150.00"))
    bus.send("crm.v1", ev.deal_refunded("d-1", "2026-07-01T00:00:00Z"))
    refund = payouts(bus, "payout.adjusted")[-1]
    assert refund["new_total"]["amount"] == "150.00"
    assert refund["lines"] == [line("manual", "150.00", "1", "150.00")]


def test_a_manual_adjustment_may_pay_a_partner_that_earns_nothing_else(
        bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    bus.send("partners.v1", ev.partner_enrolled("p-helper", tier="silver"))
    close(bus)
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-helper",
                                                    amount="-20.00"))
    manual = payouts(bus, "payout.adjusted")[-1]
    assert manual["partner_id"] == "p-helper"
    assert manual["sequence"] == 1
    assert manual["supersedes"] == []
    assert manual["new_total"]["amount"] == "-20.00"
    assert manual["basis"]["sourced"] == "direct"
    assert manual["basis"]["tier"] == "silver"


def test_the_log_says_a_manual_adjustment_is_manual(bus: InMemoryBus,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    with caplog.at_level(logging.INFO, logger="dealreg.services.payouts"):
        bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-ref"))
    [adjusted] = [r for r in caplog.records if r.getMessage() == "payout adjusted"]
    assert (adjusted.deal_id, adjusted.reason) == ("d-1", "manual")  # type: ignore[attr-defined]


def test_a_manual_amount_is_in_cents(bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-ref", amount="75"))
    [manual] = payouts(bus, "payout.adjusted")
    assert manual["lines"][-1] == line("manual", "75.00", "1", "75.00")
    bus.send("salesops.v1", ev.adjustment_requested("adj-2", "d-1", "p-ref", amount="0.001"))
    assert "data.amount.amount: 0.001 has more than 2 decimals" in bus.rejected[0]
    assert len(payouts(bus)) == 2


def test_a_repeated_manual_adjustment_is_applied_once(bus: InMemoryBus) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    request = ev.adjustment_requested("adj-1", "d-1", "p-ref")
    bus.send("salesops.v1", request)
    bus.send("salesops.v1", request)
    assert len(payouts(bus, "payout.adjusted")) == 1
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-ref", amount="9.00"))
    assert "data.amount: adjustment 'adj-1' was already received" in bus.rejected[0]


@pytest.mark.parametrize(("request_fields", "reason", "detail"), [
    ({"deal_id": "d-404"}, "unknown_deal",
     "deal d-404 is not known to the payouts service"),
    ({"deal_id": "d-lost"}, "deal_not_won", "deal d-lost was lost"),
    ({"partner_id": "p-nobody"}, "unknown_partner", "partner p-nobody is not enrolled"),
    ({"currency": "USD"}, "currency_mismatch", "the amount is in USD; deal d-1 is in EUR"),
])
def test_a_manual_adjustment_that_cannot_apply_is_rejected_with_its_reason(
        bus: InMemoryBus, request_fields: dict[str, str], reason: str, detail: str) -> None:
    owned_by(bus, "p-ref", program="referral")
    close(bus)
    close(bus, "d-lost", outcome="lost")
    fields = {"deal_id": "d-1", "partner_id": "p-ref", **request_fields}
    bus.send("salesops.v1", ev.adjustment_requested(
        "adj-1", fields.pop("deal_id"), fields.pop("partner_id"), **fields))
    [rejected] = payouts(bus, "payout.adjustment_rejected")
    assert rejected["reason"] == reason
    assert rejected["detail"] == detail
    assert rejected["adjustment_id"] == "adj-1"
    assert payouts(bus, "payout.adjusted") == []


def test_the_invariant_holds_with_manual_amounts(bus: InMemoryBus) -> None:
    """Per (deal, partner): the sum of totals and deltas equals the last ``new_total``."""
    owned_by(bus, "p-msp")
    close(bus)
    invoice(bus, "inv-1")
    bus.send("salesops.v1", ev.adjustment_requested("adj-1", "d-1", "p-msp", amount="33.33"))
    invoice(bus, "inv-2", period_start="2026-06-01", period_end="2026-06-30",
            invoiced_at="2026-07-01T00:00:00Z")
    bus.send("crm.v1", ev.deal_refunded("d-1", "2026-07-15T00:00:00Z"))
    events = payouts(bus)
    paid = sum(Decimal(e["total"]["amount"] if "total" in e else e["delta"]["amount"])
               for e in events)
    assert paid == Decimal("33.33")
    assert events[-1]["new_total"]["amount"] == "33.33"
