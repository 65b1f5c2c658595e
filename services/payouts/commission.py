"""Commissions of docs/contract.md §6: who is paid for a won deal, how much, and why. Pure.

Every amount is a ``Decimal`` rounded half-even to cents; no float anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from dealreg.events.schemas.values import TIER_ORDER, LineKind, WithheldReason
from dealreg.services.program_policy import Policy

CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Protection:
    """A registration on the deal's account as the payouts service knows it."""

    registration_id: str
    partner_id: str
    protected_from: datetime
    expires_at: datetime
    withdrawn_at: datetime | None = None
    approved: bool = True

    def protected_at(self, instant: datetime) -> bool:
        return (self.approved and self.protected_from <= instant <= self.expires_at
                and (self.withdrawn_at is None or instant < self.withdrawn_at))


@dataclass(frozen=True)
class Deal:
    deal_id: str
    account_key: str
    closed_at: datetime
    value: Decimal
    currency: str
    registration_id: str | None = None
    co_sell: bool = False
    co_sell_partner_id: str | None = None
    #: A lost deal is kept (a manual adjustment on it is rejected) but earns nothing.
    won: bool = True


@dataclass(frozen=True)
class Line:
    kind: LineKind
    base: Decimal
    rate: Decimal
    share: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Basis:
    program: str
    tier: str
    policy_id: str
    policy_version: int
    sourced: str  # "partner" | "direct"


@dataclass(frozen=True)
class Payout:
    partner_id: str
    registration_id: str | None
    lines: tuple[Line, ...]
    basis: Basis
    #: The part of the deal this partner is paid: 1, or a co-sell split (§6).
    share: Decimal = Decimal(1)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Withheld:
    reason: WithheldReason


#: (partner_id, instant) → (program, tier), or None when the partner is not enrolled then.
PartnerAt = Callable[[str, datetime], tuple[str, str] | None]


def _rank(tier: str) -> int:
    return TIER_ORDER.index(tier)


def owner_of(deal: Deal, protections: Iterable[Protection]) -> Protection | None:
    """The named registration if it is protected at the close and on the account, else
    the registration protected on the account at the close, else none."""
    protected = [p for p in protections if p.protected_at(deal.closed_at)]
    named = [p for p in protected if p.registration_id == deal.registration_id]
    if named:
        return named[0]
    return min(protected, key=lambda p: p.protected_from) if protected else None


def compute(
    deal: Deal,
    *,
    protections: Iterable[Protection],
    dispute_open: bool,
    partner_at: PartnerAt,
    policy: Policy,
) -> Payout | Withheld:
    """The payout a won deal earns under every fact known, or why none is paid."""
    protections = list(protections)
    owner = owner_of(deal, protections)
    c = deal.closed_at
    if owner is not None:
        partner_id, sourced, registration_id = owner.partner_id, "partner", owner.registration_id
        share = policy.co_sell_split["partner_sourced"] if deal.co_sell else Decimal(1)
    elif deal.co_sell and deal.co_sell_partner_id and partner_at(deal.co_sell_partner_id, c):
        partner_id, sourced, registration_id = deal.co_sell_partner_id, "direct", None
        share = policy.co_sell_split["direct_sourced"]
    elif dispute_open:
        return Withheld("dispute_open")
    elif protections or deal.registration_id is not None:
        return Withheld("registration_not_protected")
    else:
        return Withheld("no_registration")
    enrolled = partner_at(partner_id, c)
    if enrolled is None:
        return Withheld("registration_not_protected")
    program, tier = enrolled
    rate = policy.commission_rates[program][tier]
    lines = [Line("commission", deal.value, rate, share, round_money(deal.value * rate * share))]
    for bonus in policy.tier_bonuses:
        qualified = partner_at(partner_id, bonus.qualify_by)
        if (qualified is not None and bonus.closed_from <= c <= bonus.closed_to
                and _rank(qualified[1]) >= _rank(bonus.tier)):
            lines.append(Line("tier_bonus", deal.value, bonus.rate, share,
                              round_money(deal.value * bonus.rate * share)))
    return Payout(partner_id, registration_id, tuple(lines),
                  Basis(program, tier, policy.policy_id, policy.version, sourced), share)
