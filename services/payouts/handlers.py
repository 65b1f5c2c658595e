"""The payouts service's use cases, one per input event, each given its typed payload.

Every fact that can change what a deal earns (its close, a refund, an invoice, a manual
adjustment, a protection approved, extended, withdrawn or lost, a dispute opened or
settled, a late enrollment or tier change, a retroactive policy) is recorded, then the
deals it concerns are reconciled (:mod:`dealreg.services.payouts.reconciliation`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from dealreg.events.schemas import BadInput
from dealreg.events.schemas.inputs import (
    DealClosed,
    DealRefunded,
    PartnerEnrolled,
    PartnerTierChanged,
    PayoutAdjustmentRequested,
    PolicyPublished,
    SubscriptionInvoiced,
)
from dealreg.events.schemas.outputs import (
    DisputeOpened,
    DisputeSettled,
    RegistrationApproved,
    RegistrationExtended,
    RegistrationRejected,
    RegistrationWithdrawn,
)
from dealreg.events.schemas.values import AdjustmentReason, AdjustmentRejectionReason
from dealreg.processing import Inbound, UnitOfWork
from dealreg.services.account_key import account_key
from dealreg.services.partners import Partner, change_partner_tier, enroll_partner, partner_at
from dealreg.services.payouts.commission import Deal, Protection, round_money
from dealreg.services.payouts.domain import (
    AccountFacts,
    AdjustmentRequest,
    DealInvoices,
    DealPayouts,
    InvoiceReceipt,
)
from dealreg.services.payouts.reconciliation import (
    ManualRequest,
    account,
    close_won_deal,
    deal_payouts,
    deals_a_policy_recomputes,
    deals_earning_since,
    pay_invoice,
    reconcile,
    reconcile_account,
    reconcile_deals,
)
from dealreg.services.program_policy import publish_policy
from dealreg.services.repeats import check_repeat

log = logging.getLogger(__name__)


def deal_account_key(cmd: DealClosed) -> str:
    """The account key of a closed deal, or bad input naming the field."""
    try:
        return _account_key(cmd.account.company_name, cmd.account.country, cmd.account.domain)
    except ValueError as error:
        raise BadInput(f"data.account.{error}") from None


@functools.lru_cache(maxsize=1024)
def _account_key(company_name: str, country: str, domain: str | None) -> str:
    """Kept for the deals of a batch: each is asked for twice, by the read-ahead
    (:func:`_deal_reads`) and by :func:`close_deal`."""
    return account_key(company_name=company_name, country=country, domain=domain)


def close_deal(unit: UnitOfWork, cmd: DealClosed) -> None:
    """A deal is recorded once; a won one is paid, a lost one is kept only so that a manual
    adjustment on it is rejected as ``deal_not_won``."""
    won = cmd.outcome == "won"
    value, currency = cmd.first_year_value.amount, cmd.first_year_value.currency
    existing = unit.get(DealPayouts, DealPayouts.create_id(cmd.deal_id))
    if existing is not None:  # a deal closes once; the same deal.closed again is ignored
        check_repeat("deal", cmd.deal_id, existing.deal, {
            "closed_at": cmd.closed_at, "value": value, "currency": currency,
            "registration_id": cmd.registration_id, "co_sell": cmd.co_sell,
            "co_sell_partner_id": cmd.co_sell_partner_id, "won": won})
        return
    if won and cmd.co_sell_partner_id and partner_at(unit, cmd.co_sell_partner_id,
                                                     cmd.closed_at) is None:
        unit.defer_unless_overdue(
            f"co-sell partner {cmd.co_sell_partner_id} is not enrolled (yet)")
    key = deal_account_key(cmd)
    deal = Deal(cmd.deal_id, key, cmd.closed_at, value, currency, cmd.registration_id,
                cmd.co_sell, cmd.co_sell_partner_id, won)
    if won:
        account(unit, key).note_deal(deal_id=cmd.deal_id)
        close_won_deal(unit, deal)
    else:
        unit.add(DealPayouts(**vars(deal)))


def invoice_deal(unit: UnitOfWork, cmd: SubscriptionInvoiced) -> None:
    """An invoice of a deal's recurring revenue (§11), kept even when it comes before its
    deal; one read after its deal that earns is paid at once."""
    receipt = unit.get(InvoiceReceipt, InvoiceReceipt.create_id(cmd.invoice_id))
    if receipt is not None and receipt.deal_id != cmd.deal_id:
        raise BadInput(f"data.deal_id: invoice {cmd.invoice_id!r} was already received for "
                       f"deal {receipt.deal_id!r}")
    invoices = unit.get(DealInvoices, DealInvoices.create_id(cmd.deal_id))
    facts: dict[str, Any] = {
        "period_start": cmd.period_start, "period_end": cmd.period_end,
        "recurring_revenue": cmd.recurring_revenue.amount,
        "currency": cmd.recurring_revenue.currency, "invoiced_at": cmd.invoiced_at}
    if invoices is not None and (known := invoices.invoices.get(cmd.invoice_id)) is not None:
        check_repeat("invoice", cmd.invoice_id, known, facts)
        return
    unit.add(InvoiceReceipt(invoice_id=cmd.invoice_id, deal_id=cmd.deal_id))
    if invoices is None:
        invoices = DealInvoices.first(deal_id=cmd.deal_id, invoice_id=cmd.invoice_id, **facts)
        unit.add(invoices)
    else:
        invoices.invoice(deal_id=cmd.deal_id, invoice_id=cmd.invoice_id, **facts)
    payouts = unit.get(DealPayouts, DealPayouts.create_id(cmd.deal_id))
    if payouts is None:
        log.info("invoice kept until its deal closes",
                 extra={"deal_id": cmd.deal_id, "invoice_id": cmd.invoice_id})
        return
    pay_invoice(unit, payouts, invoices.invoices[cmd.invoice_id])
    reconcile(unit, payouts, reason="late_fact", decided_at=cmd.invoiced_at)


def _adjustment_rejection(unit: UnitOfWork, cmd: PayoutAdjustmentRequested
                          ) -> tuple[AdjustmentRejectionReason, str] | None:
    """Why a manual adjustment cannot apply (§10), waiting first for a deal or partner
    that may still arrive on another topic."""
    payouts = unit.get(DealPayouts, DealPayouts.create_id(cmd.deal_id))
    if payouts is None:
        unit.defer_unless_overdue(f"deal {cmd.deal_id} is not known (yet)")
        return "unknown_deal", f"deal {cmd.deal_id} is not known to the payouts service"
    if not payouts.deal.won:
        return "deal_not_won", f"deal {cmd.deal_id} was lost"
    if unit.get(Partner, Partner.create_id(cmd.partner_id)) is None:
        unit.defer_unless_overdue(f"partner {cmd.partner_id} is not enrolled (yet)")
        return "unknown_partner", f"partner {cmd.partner_id} is not enrolled"
    if cmd.amount.currency != payouts.deal.currency:
        return "currency_mismatch", (f"the amount is in {cmd.amount.currency}; deal "
                                     f"{cmd.deal_id} is in {payouts.deal.currency}")
    return None


def adjust_by_hand(unit: UnitOfWork, cmd: PayoutAdjustmentRequested) -> None:
    """A manual adjustment (§10): accepted, it is a line of every later computation. Its
    amount is in cents, as every payout is."""
    amount = round_money(cmd.amount.amount)
    if amount != cmd.amount.amount:
        raise BadInput(f"data.amount.amount: {cmd.amount.amount} has more than 2 decimals; "
                       "a payout is in cents")
    facts: dict[str, Any] = {
        "deal_id": cmd.deal_id, "partner_id": cmd.partner_id, "amount": amount,
        "currency": cmd.amount.currency, "reason": cmd.reason,
        "requested_by": cmd.requested_by, "requested_at": cmd.requested_at}
    known = unit.get(AdjustmentRequest, AdjustmentRequest.create_id(cmd.adjustment_id))
    if known is not None:
        check_repeat("adjustment", cmd.adjustment_id, known, facts)
        return
    rejection = _adjustment_rejection(unit, cmd)
    unit.add(AdjustmentRequest(adjustment_id=cmd.adjustment_id, **facts,
                               rejection=rejection[0] if rejection else None,
                               detail=rejection[1] if rejection else None))
    if rejection is not None:
        log.info("manual adjustment rejected", extra={
            "adjustment_id": cmd.adjustment_id, "deal_id": cmd.deal_id, "reason": rejection[0]})
        return
    payouts = deal_payouts(unit, cmd.deal_id, "data.deal_id")
    payouts.adjust_manually(adjustment_id=cmd.adjustment_id, partner_id=cmd.partner_id,
                            amount=amount, requested_at=cmd.requested_at)
    reconcile(unit, payouts, reason="late_fact", decided_at=cmd.requested_at,
              manual=ManualRequest(cmd.adjustment_id, cmd.partner_id))


def refund_deal(unit: UnitOfWork, cmd: DealRefunded) -> None:
    payouts = deal_payouts(unit, cmd.deal_id, "data.deal_id")
    if payouts.refunded_at is None:
        payouts.refund(refunded_at=cmd.refunded_at)
        reconcile(unit, payouts, reason="refund", decided_at=cmd.refunded_at)


def publish_program_policy(unit: UnitOfWork, cmd: PolicyPublished) -> None:
    """A new policy; a retroactive one recomputes every deal closed since it took effect."""
    policy = publish_policy(unit, cmd)
    reconcile_deals(unit, deals_a_policy_recomputes(unit, policy), reason="policy_retroactive",
                    decided_at=unit.fact_time)


def enroll_late_partner(unit: UnitOfWork, cmd: PartnerEnrolled) -> None:
    """An enrollment read after deals it concerns (another topic) pays them now."""
    enroll_partner(unit, cmd)
    reconcile_deals(unit, deals_earning_since(unit, cmd.enrolled_at), reason="late_fact",
                    decided_at=unit.fact_time)


def change_tier(unit: UnitOfWork, cmd: PartnerTierChanged) -> None:
    """A tier change can change the payout of any deal closed since it took effect."""
    change_partner_tier(unit, cmd)
    reconcile_deals(unit, deals_earning_since(unit, cmd.effective_at), reason="late_fact",
                    decided_at=unit.fact_time)


def _protect(unit: UnitOfWork, protection: Protection, key: str,
             reason: AdjustmentReason) -> None:
    facts = account(unit, key)
    if facts.protections.get(protection.registration_id) == protection:
        return  # known already (a republished event)
    facts.protect(registration_id=protection.registration_id,
                  partner_id=protection.partner_id, protected_from=protection.protected_from,
                  expires_at=protection.expires_at)
    reconcile_account(unit, facts, reason=reason, decided_at=unit.fact_time)


def protect(unit: UnitOfWork, cmd: RegistrationApproved) -> None:
    _protect(unit, Protection(cmd.registration_id, cmd.partner_id, cmd.protected_from,
                              cmd.expires_at), cmd.account_key,
             "dispute_settled" if cmd.via == "dispute" else "late_fact")


def extend_protection(unit: UnitOfWork, cmd: RegistrationExtended) -> None:
    protection = account(unit, cmd.account_key).protections.get(cmd.registration_id)
    if protection is not None:
        _protect(unit, Protection(cmd.registration_id, cmd.partner_id,
                                  protection.protected_from, cmd.expires_at),
                 cmd.account_key, "late_fact")


def _unprotect(unit: UnitOfWork, key: str, registration_id: str,
               withdrawn_at: datetime | None, reason: AdjustmentReason) -> None:
    facts = account(unit, key)
    protection = facts.protections.get(registration_id)
    if protection is None or (protection.withdrawn_at == withdrawn_at if withdrawn_at
                              else not protection.approved):
        return  # unknown, or known already (a republished event)
    facts.unprotect(registration_id=registration_id, withdrawn_at=withdrawn_at)
    reconcile_account(unit, facts, reason=reason, decided_at=unit.fact_time)


def withdraw_protection(unit: UnitOfWork, cmd: RegistrationWithdrawn) -> None:
    _unprotect(unit, cmd.account_key, cmd.registration_id, cmd.withdrawn_at, "late_fact")


def lose_protection(unit: UnitOfWork, cmd: RegistrationRejected) -> None:
    """A registration that loses a dispute loses its protection (and what it earned)."""
    if cmd.reason == "dispute_lost":
        _unprotect(unit, cmd.account_key, cmd.registration_id, None, "dispute_settled")


def _change_dispute(unit: UnitOfWork, key: str, dispute_id: str, *, open: bool,
                    decided_at: datetime) -> None:
    facts = account(unit, key)
    if (dispute_id in facts.open_disputes) != open:
        facts.change_dispute(dispute_id=dispute_id, open=open)
        reconcile_account(unit, facts, reason="dispute_settled", decided_at=decided_at)


def open_dispute(unit: UnitOfWork, cmd: DisputeOpened) -> None:
    _change_dispute(unit, cmd.account_key, cmd.dispute_id, open=True, decided_at=cmd.opened_at)


def settle_dispute(unit: UnitOfWork, cmd: DisputeSettled) -> None:
    _change_dispute(unit, cmd.account_key, cmd.dispute_id, open=False,
                    decided_at=cmd.settled_at)


def _deal_reads(cmd: DealClosed) -> Iterable[UUID]:
    return (DealPayouts.create_id(cmd.deal_id), DealInvoices.create_id(cmd.deal_id),
            AccountFacts.create_id(deal_account_key(cmd)))


def _invoice_reads(cmd: SubscriptionInvoiced) -> Iterable[UUID]:
    return (InvoiceReceipt.create_id(cmd.invoice_id), DealInvoices.create_id(cmd.deal_id),
            DealPayouts.create_id(cmd.deal_id))


def _approval_reads(cmd: RegistrationApproved) -> Iterable[UUID]:
    return (AccountFacts.create_id(cmd.account_key),)


INBOUND = (
    Inbound()
    .on(PartnerEnrolled, enroll_late_partner)
    .on(PartnerTierChanged, change_tier)
    .on(PolicyPublished, publish_program_policy)
    .on(DealClosed, close_deal, reads=_deal_reads)
    .on(DealRefunded, refund_deal)
    .on(SubscriptionInvoiced, invoice_deal, reads=_invoice_reads)
    .on(PayoutAdjustmentRequested, adjust_by_hand)
    .on(RegistrationApproved, protect, reads=_approval_reads)
    .on(RegistrationExtended, extend_protection)
    .on(RegistrationWithdrawn, withdraw_protection)
    .on(RegistrationRejected, lose_protection)
    .on(DisputeOpened, open_dispute)
    .on(DisputeSettled, settle_dispute)
)
