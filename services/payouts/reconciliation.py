"""Payouts reconciled with the facts: compute, then correct by adjustment, never edit.

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

from dealreg.events.schemas import BadInput
from dealreg.events.schemas.values import AdjustmentReason
from dealreg.identity import business_id
from dealreg.processing import UnitOfWork
from dealreg.services.partners import partner_at
from dealreg.services.payouts.commission import Payout, Withheld, compute
from dealreg.services.payouts.domain import AccountFacts, DealPayouts
from dealreg.services.program_policy import policy_book

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


def reconcile(unit: UnitOfWork, payouts: DealPayouts, *, reason: AdjustmentReason,
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


def reconcile_account(unit: UnitOfWork, facts: AccountFacts, *, reason: AdjustmentReason,
                      decided_at: datetime) -> None:
    for deal_id in facts.deal_ids:
        reconcile(unit, deal_payouts(unit, deal_id, "deal_id"), reason=reason,
                  decided_at=decided_at)


def reconcile_deals(unit: UnitOfWork, deal_ids: Iterable[str], *, reason: AdjustmentReason,
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
