"""The payouts service's application: compute, then correct by adjustment, never edit.

After every fact that can change a deal's payout, the deal is recomputed from all facts
known and reconciled with what billing already received: for each (deal, partner) whose
correct total differs from the sum emitted, one ``payout.adjusted`` carries the
difference. So the sum of ``total`` and ``delta`` per (deal, partner) always equals the
correct amount under the facts known so far.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from dealreg.identity import business_id
from dealreg.processing import UnitOfWork
from dealreg.store import ServiceApplication
from events.schemas import BadInput
from services.account_key import account_key
from services.partners import partner_at
from services.payouts.commission import Payout, Protection, Withheld, compute
from services.payouts.domain import AccountFacts, DealPayouts
from services.program_policy import policy_book
from services.repeats import check_repeat

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")


class PayoutsApplication(ServiceApplication):
    name = "payouts"


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


def outcome_of(unit: UnitOfWork, payouts: DealPayouts) -> Payout | Withheld | None:
    """The payout the deal earns now (None once refunded: the correct total is zero)."""
    if payouts.refunded_at is not None:
        return None
    deal = payouts.deal
    facts = account(unit, deal.account_key)
    return compute(
        deal,
        protections=facts.protections.values(),
        dispute_open=bool(facts.open_disputes),
        partner_at=lambda partner_id, instant: partner_at(unit, partner_id, instant),
        policy=policy_book(unit).in_force(deal.closed_at),
    )


def _lines(payout: Payout | None) -> list[dict[str, Any]]:
    if payout is None:
        return []
    return [{"kind": line.kind, "base": line.base, "rate": line.rate, "share": line.share,
             "amount": line.amount} for line in payout.lines]


def _basis(payout: Payout) -> dict[str, Any]:
    basis = payout.basis
    return {"program": basis.program, "tier": basis.tier, "policy_id": basis.policy_id,
            "policy_version": basis.policy_version, "sourced": basis.sourced}


def reconcile(unit: UnitOfWork, payouts: DealPayouts, *, reason: str,
              decided_at: datetime) -> None:
    """Emit what billing needs so that its sums equal the correct amounts again."""
    outcome = outcome_of(unit, payouts)
    deal = payouts.deal
    correct = {outcome.partner_id: outcome} if isinstance(outcome, Payout) else {}
    for partner_id in sorted(set(payouts.emitted) | set(correct)):
        payout = correct.get(partner_id)
        total = payout.total if payout else ZERO
        sequence = payouts.next_sequence(partner_id)
        new_id = payout_id(deal.deal_id, partner_id, sequence)
        if partner_id not in payouts.emitted:
            assert payout is not None
            payouts.calculate(
                payout_id=new_id, deal_id=deal.deal_id, partner_id=partner_id,
                registration_id=payout.registration_id, sequence=sequence, total=total,
                currency=deal.currency, lines=_lines(payout), basis=_basis(payout),
                closed_at=deal.closed_at)
            log.info("payout calculated", extra={"deal_id": deal.deal_id,
                                                 "partner_id": partner_id, "total": str(total)})
        elif total != payouts.emitted_total(partner_id):
            delta = total - payouts.emitted_total(partner_id)
            payouts.adjust(
                payout_id=new_id, deal_id=deal.deal_id, partner_id=partner_id,
                sequence=sequence, delta=delta, new_total=total, currency=deal.currency,
                reason=reason, lines=_lines(payout),
                basis=_basis(payout) if payout else payouts.bases[partner_id],
                supersedes=payouts.payout_ids(partner_id), decided_at=decided_at)
            log.info("payout adjusted", extra={"deal_id": deal.deal_id, "partner_id": partner_id,
                                               "delta": str(delta), "reason": reason})
    if isinstance(outcome, Withheld) and payouts.withheld != outcome.reason:
        payouts.withhold(deal_id=deal.deal_id, account_key=deal.account_key,
                         reason=outcome.reason, closed_at=deal.closed_at)


def reconcile_account(unit: UnitOfWork, facts: AccountFacts, *, reason: str,
                      decided_at: datetime) -> None:
    for deal_id in facts.deal_ids:
        reconcile(unit, deal_payouts(unit, deal_id, "deal_id"), reason=reason,
                  decided_at=decided_at)


def close_deal(unit: UnitOfWork, *, deal_id: str, company_name: str, country: str,
               domain: str | None, closed_at: datetime, value: Decimal, currency: str,
               registration_id: str | None, co_sell: bool,
               co_sell_partner_id: str | None) -> None:
    existing = unit.get(DealPayouts, DealPayouts.create_id(deal_id))
    if existing is not None:  # a deal closes once; the same deal.closed again is ignored
        check_repeat("deal", deal_id, existing.deal, {
            "closed_at": closed_at, "value": value, "currency": currency,
            "registration_id": registration_id, "co_sell": co_sell,
            "co_sell_partner_id": co_sell_partner_id})
        return
    if co_sell_partner_id and partner_at(unit, co_sell_partner_id, closed_at) is None:
        unit.defer_unless_overdue(f"co-sell partner {co_sell_partner_id} is not enrolled (yet)")
    try:
        key = account_key(company_name=company_name, country=country, domain=domain)
    except ValueError as error:
        raise BadInput(f"data.account.{error}") from None
    payouts = DealPayouts(deal_id=deal_id, account_key=key, closed_at=closed_at, value=value,
                          currency=currency, registration_id=registration_id, co_sell=co_sell,
                          co_sell_partner_id=co_sell_partner_id)
    unit.add(payouts)
    account(unit, key).note_deal(deal_id=deal_id)
    reconcile(unit, payouts, reason="late_fact", decided_at=closed_at)


def refund_deal(unit: UnitOfWork, *, deal_id: str, refunded_at: datetime) -> None:
    payouts = deal_payouts(unit, deal_id, "data.deal_id")
    if payouts.refunded_at is None:
        payouts.refund(refunded_at=refunded_at)
        reconcile(unit, payouts, reason="refund", decided_at=refunded_at)


def protect(unit: UnitOfWork, *, key: str, registration_id: str, partner_id: str,
            protected_from: datetime, expires_at: datetime, reason: str,
            decided_at: datetime) -> None:
    facts = account(unit, key)
    if facts.protections.get(registration_id) == Protection(
            registration_id, partner_id, protected_from, expires_at):
        return  # known already (a republished event)
    facts.protect(registration_id=registration_id, partner_id=partner_id,
                  protected_from=protected_from, expires_at=expires_at)
    reconcile_account(unit, facts, reason=reason, decided_at=decided_at)


def unprotect(unit: UnitOfWork, *, key: str, registration_id: str,
              withdrawn_at: datetime | None, reason: str, decided_at: datetime) -> None:
    facts = account(unit, key)
    protection = facts.protections.get(registration_id)
    if protection is None or (protection.withdrawn_at == withdrawn_at if withdrawn_at
                              else not protection.approved):
        return  # unknown, or known already (a republished event)
    facts.unprotect(registration_id=registration_id, withdrawn_at=withdrawn_at)
    reconcile_account(unit, facts, reason=reason, decided_at=decided_at)


def change_dispute(unit: UnitOfWork, *, key: str, dispute_id: str, open: bool,
                   decided_at: datetime) -> None:
    facts = account(unit, key)
    if (dispute_id in facts.open_disputes) != open:
        facts.change_dispute(dispute_id=dispute_id, open=open)
        reconcile_account(unit, facts, reason="dispute_settled", decided_at=decided_at)


def reconcile_deals(unit: UnitOfWork, deal_ids: Iterable[str], *, reason: str,
                    decided_at: datetime) -> None:
    for deal_id in deal_ids:
        reconcile(unit, deal_payouts(unit, deal_id, "deal_id"), reason=reason,
                  decided_at=decided_at)


def deals_closed_since(unit: UnitOfWork, since: datetime) -> list[str]:
    """Every deal closed at or after ``since``: stored ones (read from the notification log)
    and ones new in this batch. For rare facts only (a late tier change, a retroactive
    policy): the log is read from the start."""
    found = {closed.deal_id: None for closed in unit.app.stored_events(DealPayouts.Closed)
             if closed.closed_at >= since}
    for aggregate in unit.aggregates():
        if isinstance(aggregate, DealPayouts) and aggregate.deal.closed_at >= since:
            found[aggregate.deal.deal_id] = None
    return list(found)
