"""What the payouts service stores for a deal's first invoice: one event where earlier
versions stored two, with the same state; histories stored the earlier way load as before."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import project_aggregate

from dealreg.services.payouts.domain import DealInvoices
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
