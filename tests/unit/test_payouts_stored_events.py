"""What the payouts service stores for a deal paid at its close and for a deal's first
invoice: one event each where earlier versions stored two, with the same state and the same
payout events; histories stored the earlier way load as before."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import project_aggregate

from dealreg.services.payouts.commission import Deal
from dealreg.services.payouts.domain import PAYOUT_EVENTS, DealInvoices, DealPayouts, payout_event
from dealreg.services.payouts.emissions import emit
from dealreg.services.payouts.revenue_share import Invoice

INVOICE: dict[str, Any] = {
    "invoice_id": "i-1", "period_start": date(2026, 4, 1), "period_end": date(2026, 4, 30),
    "recurring_revenue": Decimal("1000.00"), "currency": "EUR",
    "invoiced_at": datetime(2026, 5, 1, tzinfo=UTC)}
RECORDING = {"_version": 0, "_created_on": None, "_modified_on": None}  # not the state


def invoices_before() -> DealInvoices:
    """A deal's first invoice as earlier versions stored it: two events."""
    invoices = DealInvoices(deal_id="d-1")
    invoices.invoice(deal_id="d-1", **INVOICE)
    return invoices


def test_a_deals_first_invoice_is_one_stored_event_with_the_same_state() -> None:
    now = DealInvoices.first(deal_id="d-1", **INVOICE)
    before = invoices_before()

    assert [type(e).__name__ for e in now.collect_events()] == ["OpenedAndInvoiced"]
    assert [type(e).__name__ for e in before.collect_events()] == ["Opened", "Invoiced"]
    assert vars(now) | RECORDING == vars(before) | RECORDING
    assert now.in_order() == [Invoice(deal_id="d-1", **INVOICE)]


def test_later_invoices_follow_either_history() -> None:
    second = INVOICE | {"invoice_id": "i-2", "period_start": date(2026, 5, 1),
                        "period_end": date(2026, 5, 31)}
    for invoices in (DealInvoices.first(deal_id="d-1", **INVOICE), invoices_before()):
        invoices.invoice(deal_id="d-1", **second)
        reloaded = project_aggregate(None, invoices.collect_events())
        assert isinstance(reloaded, DealInvoices)
        assert [i.invoice_id for i in reloaded.in_order()] == ["i-1", "i-2"]
        assert reloaded.version == invoices.version


DEAL = Deal("d-1", "domain:acme.example", datetime(2026, 4, 10, tzinfo=UTC),
            Decimal("100000.00"), "EUR", "r-1")
PAYOUT: dict[str, Any] = {
    "payout_id": "5b0f…-1", "partner_id": "p-1", "total": Decimal("25000.00"),
    "lines": [{"kind": "commission", "base": Decimal("100000.00"), "rate": Decimal("0.25"),
               "share": Decimal("1"), "amount": Decimal("25000.00")}],
    "basis": {"program": "referral", "tier": "gold", "policy_id": "default",
              "policy_version": 0, "sourced": "partner"},
    "payable_on": date(2026, 4, 10)}


def paid_before(registration_id: str | None) -> DealPayouts:
    """A deal paid at its close as earlier versions stored it: two events."""
    payouts = DealPayouts(**vars(DEAL))
    payouts.calculate(deal_id="d-1", registration_id=registration_id, sequence=1,
                      currency="EUR", closed_at=DEAL.closed_at, invoice_id=None,
                      invoiced_at=None, **PAYOUT)
    return payouts


def test_a_deal_paid_at_its_close_is_one_stored_event_with_the_same_state() -> None:
    now = DealPayouts.closed_and_calculated(DEAL, registration_id="r-2", **PAYOUT)
    before = paid_before("r-2")

    assert [type(e).__name__ for e in now.collect_events()] == ["ClosedAndCalculated"]
    assert [type(e).__name__ for e in before.collect_events()] == ["Closed", "Calculated"]
    assert vars(now) | RECORDING == vars(before) | RECORDING
    assert now.deal.registration_id == "r-1"  # the registration named, not the one paid


def test_it_publishes_and_reads_as_the_calculated_stored_before() -> None:
    [now] = DealPayouts.closed_and_calculated(DEAL, registration_id="r-2",
                                              **PAYOUT).collect_events()
    before = paid_before("r-2").collect_events()

    assert [e for event in before for e in emit(event)] == list(emit(now))
    assert [payout_event(e) for e in before if isinstance(e, PAYOUT_EVENTS)] == [
        replace(payout_event(now), originator_version=2, timestamp=before[1].timestamp)]
