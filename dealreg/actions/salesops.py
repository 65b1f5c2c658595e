"""What sales ops and billing send on ``salesops.v1``: a dispute raised for a partner, a
dispute resolved, a payout corrected by hand."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from dealreg.actions import Outgoing
from dealreg.events.schemas.values import format_utc
from dealreg.identity import business_id

SALESOPS = "/salesops"
CENT = Decimal("0.01")


class NotInCentsError(ValueError):
    """An amount with more than two decimals."""


def manual_amount(value: Decimal) -> Decimal:
    """The amount of a manual adjustment: in cents (the payouts service refuses more than
    two decimals), not zero, with two decimals (75 is 75.00)."""
    if value != value.quantize(CENT):
        raise NotInCentsError(f"{value} is not in cents (at most two decimals, e.g. 150.00)")
    if value == 0:
        raise ValueError("the amount must not be zero (a negative amount takes money back)")
    return value.quantize(CENT)


def raised_dispute_id(registration_id: str) -> str:
    """The id of the dispute raised for a registration: one registration, one dispute."""
    return str(business_id("dispute.raised", registration_id))


def adjustment_id(deal_id: str, partner_id: str, amount: Decimal, currency: str, *,
                  reason: str, by: str, at: datetime) -> str:
    """The id of a manual adjustment: the same correction gives the same id (150 and
    150.00 are the same amount)."""
    content = json.dumps([deal_id, partner_id, format(amount.normalize(), "f"), currency,
                          reason, by, format_utc(at)], ensure_ascii=False)
    return str(business_id("adjustment", content))


def dispute_resolution(dispute_id: str, winner_registration_id: str | None, *, by: str,
                       rationale: str, at: datetime) -> Outgoing:
    """``dispute.resolved``: the account goes to a registration, or (None) the direct team."""
    winner = ({"direct": True} if winner_registration_id is None
              else {"registration_id": winner_registration_id})
    to = ("the direct team" if winner_registration_id is None
          else f"registration {winner_registration_id}")
    return Outgoing(
        "dispute.resolved",
        {"dispute_id": dispute_id, "winner": winner, "resolved_at": format_utc(at),
         "resolved_by": by, "rationale": rationale},
        at, SALESOPS,
        f"dispute {dispute_id} goes to {to}, decided by {by}; dealreg answers with "
        "dispute.settled on conflicts.v1",
        {"dispute_id": "DISPUTE_ID", "winner.registration_id": "--winner",
         "resolved_by": "--by", "rationale": "--rationale"})


def dispute_raised(registration_id: str, *, evidence: str, at: datetime) -> Outgoing:
    """``dispute.raised`` by the partner of a registration denied for a conflict."""
    dispute_id = raised_dispute_id(registration_id)
    return Outgoing(
        "dispute.raised",
        {"dispute_id": dispute_id, "registration_id": registration_id,
         "raised_at": format_utc(at), "evidence": evidence},
        at, SALESOPS,
        f"dispute {dispute_id} raised for registration {registration_id}; dealreg answers "
        "with dispute.opened on conflicts.v1",
        {"registration_id": "REGISTRATION_ID", "evidence": "--evidence"})


def adjustment(deal_id: str, partner_id: str, amount: Decimal, currency: str, *,
               reason: str, by: str, at: datetime) -> Outgoing:
    """``payout.adjustment_requested``: money given (or, negative, taken back) by hand."""
    correction = adjustment_id(deal_id, partner_id, amount, currency, reason=reason, by=by,
                               at=at)
    return Outgoing(
        "payout.adjustment_requested",
        {"adjustment_id": correction, "deal_id": deal_id, "partner_id": partner_id,
         "amount": {"amount": format(amount, "f"), "currency": currency},
         "reason": reason, "requested_by": by, "requested_at": format_utc(at)},
        at, SALESOPS,
        f"{format(amount, 'f')} {currency} for partner {partner_id} on deal {deal_id} "
        f"(adjustment {correction}); dealreg answers with payout.adjusted, or "
        "payout.adjustment_rejected and the reason, on payouts.v1",
        {"deal_id": "DEAL_ID", "partner_id": "PARTNER_ID", "amount.amount": "AMOUNT",
         "amount.currency": "CURRENCY", "reason": "--reason", "requested_by": "--by"})
