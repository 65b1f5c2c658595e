"""What the payouts service publishes on ``payouts.v1`` for its stored events."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from dealreg.events.schemas import outputs as out
from dealreg.events.schemas.values import Money
from dealreg.outbox import Emission
from dealreg.services.payouts.domain import AdjustmentRequest, DealPayouts
from dealreg.services.program_policy import business_date


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def _lines(lines: list[dict[str, Any]], currency: str) -> list[out.PayoutLine]:
    return [out.PayoutLine(kind=line["kind"], base=_money(line["base"], currency),
                           rate=line["rate"], share=line["share"],
                           amount=_money(line["amount"], currency)) for line in lines]


def _calculated(e: DealPayouts.Calculated) -> Emission:
    """At the close, or at ``invoiced_at`` for an invoice's revenue share (§11). Events
    stored before contract 1.1 have no ``payable_on``: no policy could hold payouts then,
    so it is the date of the close."""
    return Emission("payout.calculated", e.invoiced_at or e.closed_at, out.PayoutCalculated(
        payout_id=e.payout_id, deal_id=e.deal_id, partner_id=e.partner_id,
        registration_id=e.registration_id, sequence=e.sequence,
        total=_money(e.total, e.currency), lines=_lines(e.lines, e.currency),
        basis=out.PayoutBasis(**e.basis), invoice_id=e.invoice_id,
        payable_on=e.payable_on or business_date(e.closed_at)))


def _adjusted(e: DealPayouts.Adjusted) -> Emission:
    """Events stored before contract 1.1 have no ``payable_on``; they are given the date
    of their decision (they do not record the close's)."""
    return Emission("payout.adjusted", e.decided_at, out.PayoutAdjusted(
        payout_id=e.payout_id, deal_id=e.deal_id, partner_id=e.partner_id,
        sequence=e.sequence, delta=_money(e.delta, e.currency),
        new_total=_money(e.new_total, e.currency), reason=e.reason,
        lines=_lines(e.lines, e.currency), basis=out.PayoutBasis(**e.basis),
        supersedes=e.supersedes, adjustment_id=e.adjustment_id,
        payable_on=e.payable_on or business_date(e.decided_at), clawback=e.clawback))


def emit(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
    match domain_event:
        case DealPayouts.ClosedAndCalculated() as e:
            return [_calculated(e.calculated)]
        case DealPayouts.Calculated() as e:
            return [_calculated(e)]
        case DealPayouts.Adjusted() as e:
            return [_adjusted(e)]
        case AdjustmentRequest.Received(rejection=str(reason)) as e:
            return [Emission("payout.adjustment_rejected", e.requested_at,
                             out.PayoutAdjustmentRejected(
                                 adjustment_id=e.adjustment_id, deal_id=e.deal_id,
                                 partner_id=e.partner_id, reason=reason,
                                 detail=e.detail or reason))]
        case DealPayouts.Withheld() as e:
            return [Emission("payout.withheld", e.closed_at, out.PayoutWithheld(
                deal_id=e.deal_id, account_key=e.account_key, reason=e.reason))]
    return []
