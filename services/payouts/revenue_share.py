"""Recurring revenue share of docs/contract.md §11: which invoices earn, and how much. Pure.

The (deal, partner) and the share are the deal's, decided at its close by
:func:`dealreg.services.payouts.commission.compute`; this module adds one line per earning
invoice.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from dealreg.services.payouts.commission import Basis, Line, PartnerAt, Payout, round_money
from dealreg.services.program_policy import Policy

#: The policy in force at an instant.
PolicyAt = Callable[[datetime], Policy]


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    deal_id: str
    period_start: date
    period_end: date
    recurring_revenue: Decimal
    currency: str
    invoiced_at: datetime

    @property
    def starts_at(self) -> datetime:
        """``period_start`` at 00:00 UTC: the instant whose rate and tier apply."""
        return datetime.combine(self.period_start, time(), tzinfo=UTC)


def add_months(instant: datetime, months: int) -> datetime:
    """``instant`` plus calendar months; a day the month lacks becomes its last day
    (31 January + 1 month = 28 or 29 February)."""
    index = instant.month - 1 + months
    year, month = instant.year + index // 12, index % 12 + 1
    if year > 9999:
        return datetime.max.replace(tzinfo=instant.tzinfo)
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Earning:
    """An earning invoice's line and the basis it was computed on (its partner's program
    and tier, and the policy, at ``period_start``)."""

    line: Line
    basis: Basis


def earning(invoice: Invoice, *, closed_at: datetime, currency: str, owner: Payout,
            partner_at: PartnerAt, policy_at: PolicyAt) -> Earning | None:
    """The line ``invoice`` earns for the deal's owner, or None when it does not earn:
    another currency than the deal's, a period that starts ``revenue_share_months`` or more
    after the close, a partner not enrolled at the period's start, or a rate of zero."""
    if invoice.currency != currency:
        return None
    if invoice.starts_at >= add_months(closed_at, policy_at(closed_at).revenue_share_months):
        return None
    enrolled = partner_at(owner.partner_id, invoice.starts_at)
    if enrolled is None:
        return None
    program, tier = enrolled
    policy = policy_at(invoice.starts_at)
    rate = policy.revenue_share_rate(program, tier)
    if rate <= 0:
        return None
    base = invoice.recurring_revenue
    line = Line("revenue_share", base, rate, owner.share, round_money(base * rate * owner.share))
    return Earning(line, Basis(program, tier, policy.policy_id, policy.version,
                               owner.basis.sourced))

