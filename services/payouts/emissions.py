"""What the payouts service publishes on ``payouts.v1`` for its stored events."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from dealreg.events.schemas import outputs as out
from dealreg.events.schemas.values import Money
from dealreg.outbox import Emission
from dealreg.services.payouts.domain import DealPayouts


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def _lines(lines: list[dict[str, Any]], currency: str) -> list[out.PayoutLine]:
    return [out.PayoutLine(kind=line["kind"], base=_money(line["base"], currency),
                           rate=line["rate"], share=line["share"],
                           amount=_money(line["amount"], currency)) for line in lines]


def emit(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
    match domain_event:
        case DealPayouts.Calculated() as e:
            return [Emission("payout.calculated", e.closed_at, out.PayoutCalculated(
                payout_id=e.payout_id, deal_id=e.deal_id, partner_id=e.partner_id,
                registration_id=e.registration_id, sequence=e.sequence,
                total=_money(e.total, e.currency), lines=_lines(e.lines, e.currency),
                basis=out.PayoutBasis(**e.basis), invoice_id=None))]
        case DealPayouts.Adjusted() as e:
            return [Emission("payout.adjusted", e.decided_at, out.PayoutAdjusted(
                payout_id=e.payout_id, deal_id=e.deal_id, partner_id=e.partner_id,
                sequence=e.sequence, delta=_money(e.delta, e.currency),
                new_total=_money(e.new_total, e.currency), reason=e.reason,
                lines=_lines(e.lines, e.currency), basis=out.PayoutBasis(**e.basis),
                supersedes=e.supersedes, adjustment_id=None))]
        case DealPayouts.Withheld() as e:
            return [Emission("payout.withheld", e.closed_at, out.PayoutWithheld(
                deal_id=e.deal_id, account_key=e.account_key, reason=e.reason))]
    return []
