"""The payouts service's aggregates: what it knows of each account, and each deal's payouts.

``DealPayouts`` records every payout event billing receives for a deal, so the sum already
emitted per partner is always known and a correction is the difference, never an edit.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.events.schemas.values import (
    AdjustmentReason,
    AdjustmentRejectionReason,
    WithheldReason,
)
from dealreg.identity import business_id
from dealreg.services.payouts.commission import Deal, Protection
from dealreg.services.payouts.revenue_share import Invoice


class AccountFacts(Aggregate):
    """Registrations' protection, open disputes and won deals on one account."""

    class Opened(Aggregate.Created):
        account_key: str

    class Protected(Aggregate.Event):
        registration_id: str
        partner_id: str
        protected_from: datetime
        expires_at: datetime

    class Unprotected(Aggregate.Event):
        """Withdrawn at ``withdrawn_at``, or rejected (a lost dispute) when it is None."""

        registration_id: str
        withdrawn_at: datetime | None

    class DisputeChanged(Aggregate.Event):
        dispute_id: str
        open: bool

    class DealNoted(Aggregate.Event):
        deal_id: str

    @staticmethod
    def create_id(account_key: str) -> UUID:
        return business_id("payouts-account", account_key)

    @event(Opened)
    def __init__(self, *, account_key: str) -> None:
        self.account_key = account_key
        self.protections: dict[str, Protection] = {}
        self.open_disputes: set[str] = set()
        self.deal_ids: list[str] = []

    @event(Protected)
    def protect(self, *, registration_id: str, partner_id: str, protected_from: datetime,
                expires_at: datetime) -> None:
        self.protections[registration_id] = Protection(registration_id, partner_id,
                                                       protected_from, expires_at)

    @event(Unprotected)
    def unprotect(self, *, registration_id: str, withdrawn_at: datetime | None) -> None:
        protection = self.protections[registration_id]
        self.protections[registration_id] = (
            replace(protection, withdrawn_at=withdrawn_at) if withdrawn_at
            else replace(protection, approved=False))

    @event(DisputeChanged)
    def change_dispute(self, *, dispute_id: str, open: bool) -> None:
        if open:
            self.open_disputes.add(dispute_id)
        else:
            self.open_disputes.discard(dispute_id)

    @event(DealNoted)
    def note_deal(self, *, deal_id: str) -> None:
        self.deal_ids.append(deal_id)


class DealPayouts(Aggregate):
    """One closed deal and every payout event emitted for it."""

    class Closed(Aggregate.Created):
        deal_id: str
        account_key: str
        closed_at: datetime
        value: Decimal
        currency: str
        registration_id: str | None
        co_sell: bool
        co_sell_partner_id: str | None
        won: bool = True  # lost deals are recorded from contract 1.1 on (§10)

    class ClosedAndCalculated(Closed):
        """A won deal whose owner is paid at its close (the usual case), stored as one
        event: ``Closed`` and the first ``Calculated`` (sequence 1, no invoice), which
        :attr:`calculated` gives as ``Calculated`` would store it (``paid_registration_id``
        is its ``registration_id``, the registration paid, which may not be the one the deal
        names). Earlier versions stored the two events: histories holding them load, and
        publish, the same."""

        _: KW_ONLY
        payout_id: str
        partner_id: str
        paid_registration_id: str | None
        total: Decimal
        lines: list[dict[str, Any]]
        basis: dict[str, Any]
        payable_on: date

        @property
        def calculated(self) -> DealPayouts.Calculated:
            payout: dict[str, Any] = {
                "payout_id": self.payout_id, "deal_id": self.deal_id,
                "partner_id": self.partner_id, "registration_id": self.paid_registration_id,
                "sequence": 1, "total": self.total, "currency": self.currency,
                "lines": self.lines, "basis": self.basis, "closed_at": self.closed_at,
                "invoice_id": None, "invoiced_at": None, "payable_on": self.payable_on}
            return DealPayouts.Calculated(originator_id=self.originator_id,
                                          originator_version=self.originator_version,
                                          timestamp=self.timestamp, **payout)

        def apply(self, aggregate: DealPayouts) -> None:
            aggregate.emitted[self.partner_id] = [(self.payout_id, self.total)]
            aggregate.bases[self.partner_id] = self.basis

    class Refunded(Aggregate.Event):
        refunded_at: datetime

    class Calculated(Aggregate.Event):
        payout_id: str
        deal_id: str
        partner_id: str
        registration_id: str | None
        sequence: int
        total: Decimal
        currency: str
        lines: list[dict[str, Any]]
        basis: dict[str, Any]
        closed_at: datetime
        #: Events stored before contract 1.1 have neither (see ``emissions``).
        invoice_id: str | None = None
        invoiced_at: datetime | None = None
        payable_on: date | None = None

    class Adjusted(Aggregate.Event):
        payout_id: str
        deal_id: str
        partner_id: str
        sequence: int
        delta: Decimal
        new_total: Decimal
        currency: str
        reason: AdjustmentReason
        lines: list[dict[str, Any]]
        basis: dict[str, Any]
        supersedes: list[str]
        decided_at: datetime
        payable_on: date | None = None
        clawback: bool = False
        adjustment_id: str | None = None

    class ManuallyAdjusted(Aggregate.Event):
        """An accepted manual adjustment (§10): it stays in every later computation."""

        adjustment_id: str
        partner_id: str
        amount: Decimal
        requested_at: datetime

    class Withheld(Aggregate.Event):
        deal_id: str
        account_key: str
        reason: WithheldReason
        closed_at: datetime

    @staticmethod
    def create_id(deal_id: str, **_: object) -> UUID:
        return business_id("deal-payouts", deal_id)

    @event(Closed)
    def __init__(self, *, deal_id: str, account_key: str, closed_at: datetime, value: Decimal,
                 currency: str, registration_id: str | None, co_sell: bool,
                 co_sell_partner_id: str | None, won: bool = True) -> None:
        self.deal = Deal(deal_id, account_key, closed_at, value, currency, registration_id,
                         co_sell, co_sell_partner_id, won)
        self.refunded_at: datetime | None = None
        self.emitted: dict[str, list[tuple[str, Decimal]]] = {}  # partner → (id, amount)
        self.bases: dict[str, dict[str, Any]] = {}
        self.withheld: str | None = None
        self.manual: dict[str, list[tuple[str, Decimal]]] = {}  # partner → (id, amount)

    @classmethod
    def closed_and_calculated(cls, deal: Deal, *, payout_id: str, partner_id: str,
                              registration_id: str | None, total: Decimal,
                              lines: list[dict[str, Any]], basis: dict[str, Any],
                              payable_on: date) -> DealPayouts:
        """A won deal and the payout of its owner decided at its close: one stored event,
        where a deal whose payout is withheld stores ``Closed`` then ``Withheld``."""
        return cls._create(
            cls.ClosedAndCalculated, deal_id=deal.deal_id, account_key=deal.account_key,
            closed_at=deal.closed_at, value=deal.value, currency=deal.currency,
            registration_id=deal.registration_id, co_sell=deal.co_sell,
            co_sell_partner_id=deal.co_sell_partner_id, payout_id=payout_id,
            partner_id=partner_id, paid_registration_id=registration_id, total=total,
            lines=lines, basis=basis, payable_on=payable_on)

    def emitted_total(self, partner_id: str) -> Decimal:
        return sum((amount for _, amount in self.emitted.get(partner_id, [])), Decimal("0.00"))

    def next_sequence(self, partner_id: str) -> int:
        return len(self.emitted.get(partner_id, [])) + 1

    def payout_ids(self, partner_id: str) -> list[str]:
        return [payout_id for payout_id, _ in self.emitted.get(partner_id, [])]

    @event(Refunded)
    def refund(self, *, refunded_at: datetime) -> None:
        self.refunded_at = refunded_at

    @event(Calculated)
    def calculate(self, *, payout_id: str, deal_id: str, partner_id: str,
                  registration_id: str | None, sequence: int, total: Decimal, currency: str,
                  lines: list[dict[str, Any]], basis: dict[str, Any],
                  closed_at: datetime, invoice_id: str | None = None,
                  invoiced_at: datetime | None = None, payable_on: date | None = None) -> None:
        self.emitted.setdefault(partner_id, []).append((payout_id, total))
        self.bases[partner_id] = basis
        self.withheld = None

    @event(Adjusted)
    def adjust(self, *, payout_id: str, deal_id: str, partner_id: str, sequence: int,
               delta: Decimal, new_total: Decimal, currency: str, reason: AdjustmentReason,
               lines: list[dict[str, Any]], basis: dict[str, Any], supersedes: list[str],
               decided_at: datetime, payable_on: date | None = None, clawback: bool = False,
               adjustment_id: str | None = None) -> None:
        self.emitted.setdefault(partner_id, []).append((payout_id, delta))
        self.bases[partner_id] = basis

    @event(ManuallyAdjusted)
    def adjust_manually(self, *, adjustment_id: str, partner_id: str, amount: Decimal,
                        requested_at: datetime) -> None:
        self.manual.setdefault(partner_id, []).append((adjustment_id, amount))

    @event(Withheld)
    def withhold(self, *, deal_id: str, account_key: str, reason: WithheldReason,
                 closed_at: datetime) -> None:
        self.withheld = reason


#: The stored events that are payout events for billing: each is ``payout.calculated`` or
#: ``payout.adjusted`` (:func:`payout_event`).
PAYOUT_EVENTS: tuple[type, ...] = (DealPayouts.ClosedAndCalculated, DealPayouts.Calculated,
                                   DealPayouts.Adjusted)


def payout_event(event: Any) -> Any:
    """A stored event as the payout event it holds: ``ClosedAndCalculated`` as its
    ``Calculated``, any other as it is (for readers of ``Calculated`` and ``Adjusted``)."""
    return event.calculated if isinstance(event, DealPayouts.ClosedAndCalculated) else event


class DealInvoices(Aggregate):
    """Every invoice of one deal's recurring revenue (§11), kept from the first one read,
    which may come before the deal itself."""

    class Opened(Aggregate.Created):
        """Stored alone, before the first ``Invoiced``, by earlier versions: histories
        holding it still load. A deal's first invoice is now ``OpenedAndInvoiced``."""

        deal_id: str

    class OpenedAndInvoiced(Opened):
        """The first invoice read for a deal, stored as one event with the aggregate."""

        invoice_id: str
        period_start: date
        period_end: date
        recurring_revenue: Decimal
        currency: str
        invoiced_at: datetime

        def apply(self, aggregate: DealInvoices) -> None:
            aggregate.invoices[self.invoice_id] = Invoice(
                self.invoice_id, self.deal_id, self.period_start, self.period_end,
                self.recurring_revenue, self.currency, self.invoiced_at)

    class Invoiced(Aggregate.Event):
        deal_id: str  # also here: a retroactive fact finds the deals by their invoices
        invoice_id: str
        period_start: date
        period_end: date
        recurring_revenue: Decimal
        currency: str
        invoiced_at: datetime

    @staticmethod
    def create_id(deal_id: str, **_: object) -> UUID:
        return business_id("deal-invoices", deal_id)

    @event(Opened)
    def __init__(self, *, deal_id: str) -> None:
        self.deal_id = deal_id
        self.invoices: dict[str, Invoice] = {}

    @classmethod
    def first(cls, *, deal_id: str, invoice_id: str, period_start: date, period_end: date,
              recurring_revenue: Decimal, currency: str, invoiced_at: datetime
              ) -> DealInvoices:
        """A deal's invoices from its first one: one stored event, where each later invoice
        is one more (``Invoiced``)."""
        return cls._create(cls.OpenedAndInvoiced, deal_id=deal_id, invoice_id=invoice_id,
                           period_start=period_start, period_end=period_end,
                           recurring_revenue=recurring_revenue, currency=currency,
                           invoiced_at=invoiced_at)

    @event(Invoiced)
    def invoice(self, *, deal_id: str, invoice_id: str, period_start: date, period_end: date,
                recurring_revenue: Decimal, currency: str, invoiced_at: datetime) -> None:
        self.invoices[invoice_id] = Invoice(invoice_id, deal_id, period_start, period_end,
                                            recurring_revenue, currency, invoiced_at)

    def in_order(self) -> list[Invoice]:
        """By period, then id: the order of the ``revenue_share`` lines."""
        return sorted(self.invoices.values(), key=lambda i: (i.period_start, i.invoice_id))


class AdjustmentRequest(Aggregate):
    """A ``payout.adjustment_requested`` as received, and why it was rejected, if it was
    (§10). An accepted one is also recorded on its deal (``DealPayouts.ManuallyAdjusted``)."""

    class Received(Aggregate.Created):
        adjustment_id: str
        deal_id: str
        partner_id: str
        amount: Decimal
        currency: str
        reason: str
        requested_by: str
        requested_at: datetime
        rejection: AdjustmentRejectionReason | None
        detail: str | None

    @staticmethod
    def create_id(adjustment_id: str, **_: object) -> UUID:
        return business_id("adjustment-request", adjustment_id)

    @event(Received)
    def __init__(self, *, adjustment_id: str, deal_id: str, partner_id: str, amount: Decimal,
                 currency: str, reason: str, requested_by: str, requested_at: datetime,
                 rejection: AdjustmentRejectionReason | None, detail: str | None) -> None:
        self.adjustment_id = adjustment_id
        self.deal_id = deal_id
        self.partner_id = partner_id
        self.amount = amount
        self.currency = currency
        self.reason = reason
        self.requested_by = requested_by
        self.requested_at = requested_at
        self.rejection = rejection


class InvoiceReceipt(Aggregate):
    """Which deal an ``invoice_id`` was received for: an id is a deal's invoice once."""

    class Received(Aggregate.Created):
        invoice_id: str
        deal_id: str

    @staticmethod
    def create_id(invoice_id: str, **_: object) -> UUID:
        return business_id("invoice-receipt", invoice_id)

    @event(Received)
    def __init__(self, *, invoice_id: str, deal_id: str) -> None:
        self.invoice_id = invoice_id
        self.deal_id = deal_id
