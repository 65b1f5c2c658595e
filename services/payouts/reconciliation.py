"""Payouts reconciled with the facts: compute, then correct by adjustment, never edit.

After every fact that can change a deal's payout, the deal is recomputed from all facts
known and reconciled with what billing already received: for each (deal, partner) whose
correct total differs from the sum emitted, one ``payout.adjusted`` carries the
difference. So the sum of ``total`` and ``delta`` per (deal, partner) always equals the
correct amount under the facts known so far (docs/contract.md §6): the computed lines
(commission, tier bonus, one revenue share line per earning invoice; none after a refund)
plus one manual line per accepted manual adjustment (§10).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dealreg.events.schemas import BadInput
from dealreg.events.schemas.values import AdjustmentReason
from dealreg.identity import business_id
from dealreg.processing import UnitOfWork
from dealreg.services.partners import Partner, partner_at
from dealreg.services.payouts.commission import Basis, Deal, Line, Payout, Withheld, compute
from dealreg.services.payouts.domain import AccountFacts, DealInvoices, DealPayouts
from dealreg.services.payouts.holding import clawback
from dealreg.services.payouts.revenue_share import Earning, Invoice, earning
from dealreg.services.program_policy import PublishedPolicy, business_date, policy_book

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")


def payout_id(deal_id: str, partner_id: str, sequence: int) -> str:
    """Deterministic: the same deal, partner and sequence always give the same id."""
    return str(business_id("payout", f"{deal_id}:{partner_id}:{sequence}"))


def account(unit: UnitOfWork, key: str) -> AccountFacts:
    return unit.get_or_add(AccountFacts, AccountFacts.create_id(key),
                           lambda: AccountFacts(account_key=key))


def deal_payouts(unit: UnitOfWork, deal_id: str, field: str) -> DealPayouts:
    payouts = unit.get(DealPayouts, DealPayouts.create_id(deal_id))
    if payouts is None:
        unit.defer_unless_overdue(f"deal {deal_id} is not known (yet)")
        raise BadInput(f"{field}: unknown deal {deal_id!r}")
    return payouts


def invoices_of(unit: UnitOfWork, deal_id: str) -> list[Invoice]:
    invoices = unit.get(DealInvoices, DealInvoices.create_id(deal_id))
    return [] if invoices is None else invoices.in_order()


def outcome_of(unit: UnitOfWork, payouts: DealPayouts) -> Payout | Withheld | None:
    """What §6 decides for the deal now: its owner's commission, or why none is paid;
    None when the deal was lost or refunded (nothing is computed: the total is zero)."""
    if not payouts.deal.won or payouts.refunded_at is not None:
        return None
    return decided(unit, payouts.deal)


def decided(unit: UnitOfWork, deal: Deal) -> Payout | Withheld:
    """What §6 decides for a won deal that is not refunded, under every fact known."""
    facts = account(unit, deal.account_key)
    return compute(
        deal,
        protections=facts.protections.values(),
        dispute_open=bool(facts.open_disputes),
        partner_at=lambda partner_id, instant: partner_at(unit, partner_id, instant),
        policy=policy_book(unit).in_force(deal.closed_at),
    )


def invoice_earning(unit: UnitOfWork, deal: Deal, owner: Payout,
                   invoice: Invoice) -> Earning | None:
    return earning(invoice, closed_at=deal.closed_at, currency=deal.currency, owner=owner,
                   partner_at=lambda partner_id, instant: partner_at(unit, partner_id, instant),
                   policy_at=policy_book(unit).in_force)


@dataclass(frozen=True)
class Entitlement:
    """What one partner is owed on a deal under every fact known. ``basis`` is None when
    nothing is computed for it (only manual lines, or a refund)."""

    registration_id: str | None
    lines: tuple[Line, ...]
    basis: Basis | None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def manual_line(amount: Decimal) -> Line:
    """The line of an accepted manual adjustment (§10)."""
    return Line("manual", amount, Decimal("1"), Decimal("1"), amount)


def owner_entitlement(unit: UnitOfWork, deal: Deal, owner: Payout) -> Entitlement:
    """The computed lines of the deal's owner: its commission and tier bonus, and one
    revenue share line per earning invoice."""
    earnings = (invoice_earning(unit, deal, owner, invoice)
                for invoice in invoices_of(unit, deal.deal_id))
    return Entitlement(owner.registration_id,
                       owner.lines + tuple(e.line for e in earnings if e is not None),
                       owner.basis)


def entitlements(unit: UnitOfWork, payouts: DealPayouts
                 ) -> tuple[dict[str, Entitlement], Withheld | None]:
    """Each partner's correct lines on the deal, and why no partner is paid, if none is."""
    outcome = outcome_of(unit, payouts)
    owed: dict[str, Entitlement] = {}
    if isinstance(outcome, Payout):
        owed[outcome.partner_id] = owner_entitlement(unit, payouts.deal, outcome)
    for partner_id, adjustments in payouts.manual.items():
        computed = owed.get(partner_id, Entitlement(None, (), None))
        owed[partner_id] = Entitlement(
            computed.registration_id,
            computed.lines + tuple(manual_line(amount) for _, amount in adjustments),
            computed.basis)
    return owed, outcome if isinstance(outcome, Withheld) else None


def _lines(lines: Iterable[Line]) -> list[dict[str, Any]]:
    return [{"kind": line.kind, "base": line.base, "rate": line.rate, "share": line.share,
             "amount": line.amount} for line in lines]


def _basis(basis: Basis) -> dict[str, Any]:
    return {"program": basis.program, "tier": basis.tier, "policy_id": basis.policy_id,
            "policy_version": basis.policy_version, "sourced": basis.sourced}


def _manual_basis(unit: UnitOfWork, payouts: DealPayouts, partner_id: str) -> Basis:
    """The basis of a partner paid only by hand: its program and tier at the close (or at
    its enrollment, if later), the policy in force at the close, ``sourced`` direct."""
    closed_at = payouts.deal.closed_at
    partner = unit.get(Partner, Partner.create_id(partner_id))
    if partner is None:
        raise BadInput(f"data.partner_id: partner {partner_id!r} is not enrolled")
    program, tier = partner.program_and_tier_at(max(closed_at, partner.enrolled_at)) or (
        partner.program, partner.tiers[0][1])
    policy = policy_book(unit).in_force(closed_at)
    return Basis(program, tier, policy.policy_id, policy.version, "direct")


def payable_on(unit: UnitOfWork, instant: datetime) -> date:
    """``payable_on`` of a payout event decided for ``instant`` (§9)."""
    return policy_book(unit).in_force(instant).payable_on(instant)


@dataclass(frozen=True)
class ManualRequest:
    """An accepted manual adjustment being applied: its partner's event is emitted as
    ``payout.adjusted`` with reason ``manual``."""

    adjustment_id: str
    partner_id: str


def reconcile(unit: UnitOfWork, payouts: DealPayouts, *, reason: AdjustmentReason,
              decided_at: datetime, manual: ManualRequest | None = None) -> None:
    """Emit what billing needs so that its sums equal the correct amounts again."""
    owed, withheld = entitlements(unit, payouts)
    deal = payouts.deal
    due = payable_on(unit, deal.closed_at)
    for partner_id in sorted(set(payouts.emitted) | set(owed)):
        entitled = owed.get(partner_id, Entitlement(None, (), None))
        total, emitted = entitled.total, payouts.emitted_total(partner_id)
        by_hand = manual is not None and manual.partner_id == partner_id
        sequence = payouts.next_sequence(partner_id)
        new_id = payout_id(deal.deal_id, partner_id, sequence)
        if partner_id not in payouts.emitted and entitled.basis is not None and not by_hand:
            payouts.calculate(
                payout_id=new_id, deal_id=deal.deal_id, partner_id=partner_id,
                registration_id=entitled.registration_id, sequence=sequence, total=total,
                currency=deal.currency, lines=_lines(entitled.lines),
                basis=_basis(entitled.basis), closed_at=deal.closed_at, invoice_id=None,
                invoiced_at=None, payable_on=due)
            _log_calculated(deal.deal_id, partner_id, total)
        elif total != emitted or by_hand:
            delta = total - emitted
            why: AdjustmentReason = "manual" if by_hand else reason
            basis = (_basis(entitled.basis) if entitled.basis is not None
                     else payouts.bases.get(partner_id)
                     or _basis(_manual_basis(unit, payouts, partner_id)))
            payouts.adjust(
                payout_id=new_id, deal_id=deal.deal_id, partner_id=partner_id,
                sequence=sequence, delta=delta, new_total=total, currency=deal.currency,
                reason=why, lines=_lines(entitled.lines),
                basis=basis, supersedes=payouts.payout_ids(partner_id), decided_at=decided_at,
                payable_on=due, clawback=clawback(delta, decided_at, due),
                adjustment_id=manual.adjustment_id if manual and by_hand else None)
            log.info("payout adjusted", extra={"deal_id": deal.deal_id, "partner_id": partner_id,
                                               "delta": str(delta), "reason": why})
    if withheld is not None and payouts.withheld != withheld.reason:
        payouts.withhold(deal_id=deal.deal_id, account_key=deal.account_key,
                         reason=withheld.reason, closed_at=deal.closed_at)


def close_won_deal(unit: UnitOfWork, deal: Deal) -> DealPayouts:
    """A won deal's payouts from its close, reconciled at once like any fact. When its
    owner is paid (the usual case), that first ``payout.calculated`` is stored with the
    close as one event, as :func:`reconcile` would have decided it; otherwise (withheld)
    the deal is ``Closed`` and reconciled."""
    outcome = decided(unit, deal)
    if not isinstance(outcome, Payout):
        payouts = DealPayouts(**vars(deal))
        unit.add(payouts)
        reconcile(unit, payouts, reason="late_fact", decided_at=deal.closed_at)
        return payouts
    entitled = owner_entitlement(unit, deal, outcome)
    payouts = DealPayouts.closed_and_calculated(
        deal, payout_id=payout_id(deal.deal_id, outcome.partner_id, 1),
        partner_id=outcome.partner_id, registration_id=entitled.registration_id,
        total=entitled.total, lines=_lines(entitled.lines), basis=_basis(outcome.basis),
        payable_on=payable_on(unit, deal.closed_at))
    unit.add(payouts)
    _log_calculated(deal.deal_id, outcome.partner_id, entitled.total)
    return payouts


def _log_calculated(deal_id: str, partner_id: str, total: Decimal) -> None:
    log.info("payout calculated", extra={"deal_id": deal_id, "partner_id": partner_id,
                                         "total": str(total)})


def pay_invoice(unit: UnitOfWork, payouts: DealPayouts, invoice: Invoice) -> None:
    """An earning invoice read after its deal: one ``payout.calculated`` with its
    ``invoice_id`` for the deal's owner (§11), its total the invoice line's amount."""
    outcome = outcome_of(unit, payouts)
    if not isinstance(outcome, Payout) or outcome.partner_id not in payouts.emitted:
        return  # no owner yet: the invoice is a line of the owner's first payout event
    earned = invoice_earning(unit, payouts.deal, outcome, invoice)
    if earned is None:
        return
    deal, partner_id = payouts.deal, outcome.partner_id
    sequence = payouts.next_sequence(partner_id)
    payouts.calculate(
        payout_id=payout_id(deal.deal_id, partner_id, sequence), deal_id=deal.deal_id,
        partner_id=partner_id, registration_id=outcome.registration_id, sequence=sequence,
        total=earned.line.amount, currency=deal.currency, lines=_lines((earned.line,)),
        basis=_basis(earned.basis), closed_at=deal.closed_at, invoice_id=invoice.invoice_id,
        invoiced_at=invoice.invoiced_at, payable_on=payable_on(unit, invoice.invoiced_at))
    log.info("revenue share calculated", extra={
        "deal_id": deal.deal_id, "partner_id": partner_id, "invoice_id": invoice.invoice_id,
        "total": str(earned.line.amount)})


def reconcile_account(unit: UnitOfWork, facts: AccountFacts, *, reason: AdjustmentReason,
                      decided_at: datetime) -> None:
    reconcile_deals(unit, facts.deal_ids, reason=reason, decided_at=decided_at)


def reconcile_deals(unit: UnitOfWork, deal_ids: Iterable[str], *, reason: AdjustmentReason,
                    decided_at: datetime) -> None:
    for deal_id in deal_ids:
        reconcile(unit, deal_payouts(unit, deal_id, "deal_id"), reason=reason,
                  decided_at=decided_at)


def deals_earning_since(unit: UnitOfWork, since: datetime) -> list[str]:
    """Every known deal whose payout may depend on a fact effective at ``since``: closed at
    or after it, or with an invoice whose period starts at or after it. Stored ones are read
    from the notification log, new ones from this batch. For rare facts only (a late tier
    change, a retroactive policy, a late enrollment): the log is read from the start."""
    found = {closed.deal_id: None for closed in unit.app.stored_events(
        DealPayouts.Closed, DealPayouts.ClosedAndCalculated) if closed.closed_at >= since}
    found.update({invoiced.deal_id: None
                  for invoiced in unit.app.stored_events(DealInvoices.OpenedAndInvoiced,
                                                         DealInvoices.Invoiced)
                  if invoiced.period_start >= business_date(since)})
    for aggregate in unit.aggregates():
        if isinstance(aggregate, DealPayouts) and aggregate.deal.closed_at >= since:
            found[aggregate.deal.deal_id] = None
        if isinstance(aggregate, DealInvoices) and any(
                invoice.period_start >= business_date(since)
                for invoice in aggregate.invoices.values()):
            found[aggregate.deal_id] = None
    return [deal_id for deal_id in found
            if unit.get(DealPayouts, DealPayouts.create_id(deal_id)) is not None]


def deals_a_policy_recomputes(unit: UnitOfWork, policy: PublishedPolicy | None) -> list[str]:
    """The deals that publishing ``policy`` recomputes (None: a version already known, which
    changes nothing): for a retroactive one, every deal earning since it took effect; for
    any other, none, as it takes effect only after its publication."""
    if policy is None or not policy.retroactive:
        return []
    return deals_earning_since(unit, policy.effective_from)
