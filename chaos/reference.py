"""A plain reference implementation of docs/contract.md §5, §6, §8, §10 and §11, for the
workloads of the chaos suite and the property tests: facts are applied one at a time in the
order the workload's phases guarantee, with the default policy's windows and the policies and
tier changes the workload publishes. What a (deal, partner) is owed is its first-year
commission plus the revenue share of its earning invoices (zero after a refund), plus the
manual adjustments accepted for it.

It shares no code with the services: it is the contract read as plainly as possible, so
that agreement between the two means something.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

WINDOWS = {"referral": {"bronze": 30, "silver": 30, "gold": 45, "platinum": 60},
           "reseller": {"bronze": 60, "silver": 60, "gold": 75, "platinum": 90},
           "msp": {"bronze": 60, "silver": 60, "gold": 75, "platinum": 90}}
RATES = {"referral": {"bronze": "0.15", "silver": "0.20", "gold": "0.25", "platinum": "0.30"},
         "reseller": {"bronze": "0.20", "silver": "0.24", "gold": "0.27", "platinum": "0.30"},
         "msp": {"bronze": "0.00", "silver": "0.00", "gold": "0.00", "platinum": "0.00"}}
#: §11: the share of recurring revenue, by program and tier
REVENUE_SHARE = {
    "referral": {"bronze": "0.00", "silver": "0.00", "gold": "0.00", "platinum": "0.00"},
    "reseller": {"bronze": "0.00", "silver": "0.00", "gold": "0.00", "platinum": "0.00"},
    "msp": {"bronze": "0.10", "silver": "0.15", "gold": "0.20", "platinum": "0.25"}}
REVENUE_SHARE_MONTHS = 36
SPLIT = {"partner_sourced": "0.70", "direct_sourced": "0.30"}
MAX_EXTENSION_DAYS, MAX_TOTAL_DAYS = 30, 90
CENT = Decimal("0.01")


@dataclass
class Partner:
    partner_id: str
    program: str
    tiers: list[tuple[datetime, str]]  # (effective from, tier), the enrolment first

    def tier_at(self, t: datetime) -> str | None:
        current = None
        for effective, tier in sorted(self.tiers):
            if effective <= t:
                current = tier
        return current


@dataclass
class Registration:
    registration_id: str
    partner_id: str
    account: str
    submitted_at: datetime
    status: str = "received"
    reason: str | None = None
    conflicting: str | None = None
    protected_from: datetime | None = None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def holds_at(self, t: datetime) -> bool:
        return (self.status == "approved" and self.expires_at is not None and t <= self.expires_at
                and (self.withdrawn_at is None or t < self.withdrawn_at))

    def protected_at(self, t: datetime) -> bool:
        return (self.holds_at(t) and self.protected_from is not None
                and self.protected_from <= t)


@dataclass
class Dispute:
    kind: str
    account: str
    registration_ids: list[str]
    dispute_id: str | None = None  # known for partner-raised disputes only
    open: bool = True
    winner: str | None = None  # a registration id, or "direct"


@dataclass
class Deal:
    deal_id: str
    account: str
    closed_at: datetime
    value: Decimal
    registration_id: str | None
    co_sell_partner: str | None
    refunded: bool = False
    currency: str = "USD"


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    deal_id: str
    period_start: date
    recurring_revenue: Decimal
    currency: str


@dataclass(frozen=True)
class Adjustment:
    adjustment_id: str
    deal_id: str
    partner_id: str
    amount: Decimal
    currency: str


@dataclass
class Policy:
    effective_from: datetime
    version: int
    rates: dict[str, dict[str, str]]
    split: dict[str, str]
    revenue_share: dict[str, dict[str, str]] = field(default_factory=dict)
    revenue_share_months: int | None = None


@dataclass(frozen=True)
class Terms:
    """The policy in force at an instant, every field merged over the default."""

    rates: dict[str, dict[str, str]]
    split: dict[str, str]
    revenue_share: dict[str, dict[str, str]]
    revenue_share_months: int


def plus_months(instant: datetime, months: int) -> datetime:
    """Calendar months added day for day; a day the month lacks is its last day."""
    year, month = divmod(instant.month - 1 + months, 12)
    year += instant.year
    last = calendar.monthrange(year, month + 1)[1]
    return instant.replace(year=year, month=month + 1, day=min(instant.day, last))


def winner_of(registration_ids: list[str]) -> str:
    """The workload's settlement of a dispute: a deterministic pick among its members, or the
    direct team one time in five."""
    ordered = sorted(registration_ids)
    digest = int.from_bytes(hashlib.sha256(",".join(ordered).encode()).digest()[:8], "big")
    return "direct" if digest % 5 == 0 else ordered[digest % len(ordered)]


@dataclass
class Reference:
    partners: dict[str, Partner] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    opportunities: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    deals: dict[str, Deal] = field(default_factory=dict)
    #: §8: how many open registrations a partner of (program, tier) may hold; absent: no limit
    capacities: dict[tuple[str, str], int] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)  # deals closed lost
    invoices: dict[str, Invoice] = field(default_factory=dict)
    #: §10: every request, and the reason of each one rejected (None: accepted)
    adjustments: dict[str, tuple[Adjustment, str | None]] = field(default_factory=dict)

    # ---------------------------------------------------------------- §5 registrations

    def enroll(self, partner_id: str, program: str, tier: str, at: datetime) -> None:
        self.partners[partner_id] = Partner(partner_id, program, [(at, tier)])

    def change_tier(self, partner_id: str, tier: str, at: datetime) -> None:
        self.partners[partner_id].tiers.append((at, tier))

    def _window(self, partner_id: str, t: datetime) -> timedelta:
        partner = self.partners[partner_id]
        tier = partner.tier_at(t)
        assert tier is not None
        return timedelta(days=WINDOWS[partner.program][tier])

    def submit(self, r: Registration, *, valid: bool = True) -> None:
        self.registrations[r.registration_id] = r
        t, partner = r.submitted_at, self.partners.get(r.partner_id)
        others = [o for o in self.registrations.values() if o.account == r.account and o is not r]
        if not valid:
            r.status, r.reason = "rejected", "invalid"
        elif partner is None or partner.tier_at(t) is None:
            r.status, r.reason = "rejected", "unknown_partner"
        elif any(o.partner_id == r.partner_id and (o.status == "under_review" or o.holds_at(t))
                 for o in others):
            r.status, r.reason = "rejected", "duplicate"
        elif self._at_capacity(r):
            r.status, r.reason = "rejected", "over_capacity"
        elif holders := [o for o in others if o.partner_id != r.partner_id and o.holds_at(t)]:
            holder = holders[0]
            if holder.submitted_at <= t:
                r.status, r.reason, r.conflicting = "rejected", "conflict", holder.registration_id
            else:
                r.status = "under_review"
                self.disputes.append(Dispute("late_earlier_submission", r.account,
                                             [r.registration_id, holder.registration_id]))
        elif joined := [d for d in self.disputes if d.account == r.account and d.open]:
            r.status = "under_review"
            joined[0].registration_ids.append(r.registration_id)
        elif any(account == r.account and opened <= t and (closed is None or t < closed)
                 for account, opened, closed in self.opportunities):
            r.status = "under_review"
            self.disputes.append(Dispute("partner_vs_direct", r.account, [r.registration_id]))
        else:
            self._approve(r)

    def _at_capacity(self, r: Registration) -> bool:
        """Rule 2b: the partner's other registrations open at t, on any account."""
        t, partner = r.submitted_at, self.partners[r.partner_id]
        limit = self.capacities.get((partner.program, partner.tier_at(t) or ""))
        if limit is None:
            return False
        held = [o for o in self.registrations.values()
                if o.partner_id == r.partner_id and o is not r
                and (o.withdrawn_at is None or t < o.withdrawn_at)
                and (o.status == "under_review" or o.protected_at(t))]
        return len(held) >= limit

    def _approve(self, r: Registration) -> None:
        r.status, r.reason = "approved", None
        r.protected_from = r.submitted_at
        r.expires_at = r.submitted_at + self._window(r.partner_id, r.submitted_at)

    def open_opportunity(self, account: str, at: datetime) -> None:
        """Rule 5 applied late: approved registrations submitted since it was opened go to a
        dispute with it (they keep their protection)."""
        self.opportunities.append((account, at, None))
        late = sorted((r for r in self.registrations.values()
                       if r.account == account and r.status == "approved"
                       and r.withdrawn_at is None and r.submitted_at >= at),
                      key=lambda r: (r.submitted_at, r.registration_id))
        if not late:
            return
        joined = [d for d in self.disputes if d.account == account and d.open]
        if joined:
            joined[0].registration_ids.extend(r.registration_id for r in late
                                              if r.registration_id not in
                                              joined[0].registration_ids)
        else:
            self.disputes.append(Dispute("partner_vs_direct", account,
                                         [r.registration_id for r in late]))

    def raise_dispute(self, dispute_id: str, registration_id: str) -> None:
        r = self.registrations[registration_id]
        assert r.conflicting is not None, registration_id
        self.disputes.append(Dispute("partner_vs_partner", r.account,
                                     [registration_id, r.conflicting], dispute_id))

    def settle(self, dispute: Dispute) -> None:
        winner = winner_of(dispute.registration_ids)
        dispute.open, dispute.winner = False, winner
        for registration_id in dispute.registration_ids:
            r = self.registrations[registration_id]
            if registration_id == winner:
                self._approve(r)
            else:
                r.status, r.reason = "rejected", "dispute_lost"

    def extend(self, registration_id: str, days: int, at: datetime) -> None:
        r = self.registrations[registration_id]
        if (r.protected_at(at) and days <= MAX_EXTENSION_DAYS and r.expires_at is not None
                and r.protected_from is not None
                and r.expires_at + timedelta(days=days) - r.protected_from
                <= timedelta(days=MAX_TOTAL_DAYS)):
            r.expires_at += timedelta(days=days)

    def withdraw(self, registration_id: str, at: datetime) -> None:
        r = self.registrations[registration_id]
        if r.withdrawn_at is None and r.status != "rejected":
            r.withdrawn_at = at

    # ---------------------------------------------------------------- §6 payouts

    def publish_policy(self, policy: Policy) -> None:
        self.policies.append(policy)

    def _policy_at(self, c: datetime) -> Terms:
        rates = {program: dict(tiers) for program, tiers in RATES.items()}
        shares = {program: dict(tiers) for program, tiers in REVENUE_SHARE.items()}
        split = dict(SPLIT)
        months = REVENUE_SHARE_MONTHS
        for policy in sorted(self.policies, key=lambda p: (p.effective_from, p.version)):
            if policy.effective_from <= c:  # what a policy leaves out keeps its value
                for program, tiers in policy.rates.items():
                    rates[program].update(tiers)
                for program, tiers in policy.revenue_share.items():
                    shares[program].update(tiers)
                split |= policy.split
                if policy.revenue_share_months is not None:
                    months = policy.revenue_share_months
        return Terms(rates, split, shares, months)

    def close_deal(self, deal: Deal, *, won: bool) -> None:
        """A won deal is paid; any closed deal closes the account's open opportunities."""
        if won:
            self.deals[deal.deal_id] = deal
        else:
            self.lost.add(deal.deal_id)
        self.opportunities = [
            (a, opened, deal.closed_at if a == deal.account and closed is None else closed)
            for a, opened, closed in self.opportunities]

    def refund(self, deal_id: str) -> None:
        self.deals[deal_id].refunded = True

    def invoice(self, invoice: Invoice) -> None:
        """§11: an invoice of a deal's subscription; the same invoice again changes nothing."""
        assert self.invoices.setdefault(invoice.invoice_id, invoice) == invoice

    def adjust(self, adjustment: Adjustment) -> str | None:
        """§10: a manual adjustment, accepted (None) or rejected with its reason."""
        if adjustment.adjustment_id in self.adjustments:  # the same request again
            known, outcome = self.adjustments[adjustment.adjustment_id]
            assert known == adjustment
            return outcome
        reason: str | None
        deal = self.deals.get(adjustment.deal_id)
        if deal is None:
            reason = "deal_not_won" if adjustment.deal_id in self.lost else "unknown_deal"
        elif adjustment.partner_id not in self.partners:
            reason = "unknown_partner"
        elif adjustment.currency != deal.currency:
            reason = "currency_mismatch"
        else:
            reason = None
        self.adjustments[adjustment.adjustment_id] = (adjustment, reason)
        return reason

    def amounts(self) -> dict[tuple[str, str], Decimal]:
        """What each (deal, partner) is owed under every fact: billing's sums must equal it."""
        owed: dict[tuple[str, str], Decimal] = {}
        for deal in self.deals.values():
            payee = self.payee(deal)
            if payee is not None:
                partner_id, share, commission = payee
                earned = commission + sum(
                    (self._revenue_share(deal, invoice, partner_id, share)
                     for invoice in self.invoices.values() if invoice.deal_id == deal.deal_id),
                    Decimal(0))
                owed[(deal.deal_id, partner_id)] = Decimal("0.00") if deal.refunded else earned
        for adjustment, reason in self.adjustments.values():
            if reason is None:  # manual amounts survive everything, refunds included
                key = (adjustment.deal_id, adjustment.partner_id)
                owed[key] = owed.get(key, Decimal(0)) + adjustment.amount
        return owed

    def _revenue_share(self, deal: Deal, invoice: Invoice, partner_id: str,
                       share: Decimal) -> Decimal:
        """§11: an invoice earns in the deal's currency, for a period that starts before the
        close plus the months of the policy at the close, at the rate of the policy and the
        partner's tier at the start of the period."""
        starts_at = datetime(invoice.period_start.year, invoice.period_start.month,
                             invoice.period_start.day, tzinfo=UTC)
        months = self._policy_at(deal.closed_at).revenue_share_months
        if invoice.currency != deal.currency or starts_at >= plus_months(deal.closed_at, months):
            return Decimal(0)
        partner = self.partners[partner_id]
        tier = partner.tier_at(starts_at)
        if tier is None:
            return Decimal(0)
        rate = Decimal(self._policy_at(starts_at).revenue_share[partner.program][tier])
        return (invoice.recurring_revenue * rate * share).quantize(CENT, ROUND_HALF_EVEN)

    def payee(self, deal: Deal) -> tuple[str, Decimal, Decimal] | None:
        """Who is paid for the deal (§6): the partner, its share and its commission."""
        c = deal.closed_at
        protected = [r for r in self.registrations.values()
                     if r.account == deal.account and r.protected_at(c)]
        named = [r for r in protected if r.registration_id == deal.registration_id]
        owner = named[0] if named else min(protected, key=lambda r: r.protected_from or c,
                                           default=None)
        terms = self._policy_at(c)
        rates, split = terms.rates, terms.split
        if owner is not None:
            payee = owner.partner_id
            share = Decimal(split["partner_sourced"]) if deal.co_sell_partner else Decimal(1)
        elif deal.co_sell_partner and self.partners[deal.co_sell_partner].tier_at(c):
            payee, share = deal.co_sell_partner, Decimal(split["direct_sourced"])
        else:
            return None
        partner = self.partners[payee]
        tier = partner.tier_at(c)
        assert tier is not None
        amount = deal.value * Decimal(rates[partner.program][tier]) * share
        return payee, share, amount.quantize(CENT, ROUND_HALF_EVEN)
