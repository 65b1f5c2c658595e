"""A realistic workload, deterministic by seed, in phases, with its expected final state.

Phases are published one after the other, the system drained in between (the suite waits
until every service has read its input topics to the end and published what it stored).
Inside a phase the facts commute: at most one registration per account per wave, one
action per registration, so that the outcome is the same whatever the interleaving of
partitions, restarts and rebalances. The reference (``chaos.reference``) applies the same
facts in the same phase order, which gives the expected final state.

1. directory: partners of the three programs and every tier, two partners of the one
   (program, tier) with a registration capacity (§8), the policy that sets it (with a
   holding period, §9), and a policy (not retroactive) in force from later on
2. opportunities: direct opportunities on some accounts (rule 5 later)
3. waves of registrations: new accounts, duplicates, conflicts, earlier submissions
   arriving later, joins of open disputes, invalid data, unknown partners; each capped
   partner submits one registration per wave on a new account, so that what it holds when
   it submits is fixed by the earlier waves (one of them is over capacity in the third)
4. claims: disputes raised by partners denied for conflict, extensions, withdrawals
5. late opportunities: direct opportunities opened before registrations approved in the
   waves, read only now (rule 5 applied late, §5), or opened after them (no dispute)
6. settlements: every open dispute resolved (a registration or the direct team wins),
   those of the late opportunities included
7. tiers: tier changes effective before some closes
8. deals: won and lost deals, with and without a registration, named or not, co-sold, and
   the subscription invoices of won deals (§11): monthly ones, one in the last month the
   revenue share lasts and one after, some in another currency, one sent twice. Some
   invoices come before their deal: both are keyed by the deal, so they are read in the
   order sent (an invoice before its deal is a line of the deal's first payout, one after it
   its own; the sum is the same)
9. adjustments: manual adjustments (§10) of won deals, for the partner paid or another,
   one sent twice, and rejected ones (unknown deal, lost deal, unknown partner, another
   currency)
10. retroactive policy: a new commission rate and revenue share rates for deals and
    invoices already paid (manual amounts stay)
11. refunds (manual amounts stay)
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from chaos.reference import (
    Adjustment,
    Deal,
    Dispute,
    Invoice,
    Policy,
    Reference,
    Registration,
    plus_months,
)
from dealreg.events.schemas import kafka_key, parse_event
from tests.support import events as ev

TIERS = ("bronze", "silver", "gold", "platinum")
PROGRAMS = ("referral", "reseller", "msp")
PHASES = ("directory", "opportunities", "wave-1", "wave-2", "wave-3", "claims",
          "late-opportunities", "settlements", "tiers", "deals", "adjustments",
          "retroactive-policy", "refunds")
#: §8: the one (program, tier) with a registration capacity, and that capacity
CAPPED, CAPACITY = ("reseller", "bronze"), 2
#: its partners, with the business day of their submission in each wave: the first holds
#: two registrations when it submits in the third wave, the second none (its third
#: submission is earlier than its first two)
CAPPED_PARTNERS = {"p-cap-0": (0.2, 1.2, 2.2), "p-cap-1": (1.5, 2.5, 0.5)}


@dataclass(frozen=True)
class Message:
    topic: str
    value: bytes
    key: bytes | None
    partition: int | None = None  # chosen for keyless messages, so offsets are reproducible
    hostile: str | None = None  # what is wrong with it (it must be dead-lettered)


@dataclass
class Phase:
    name: str
    messages: list[Message] = field(default_factory=list)

    def add(self, topic: str, event: dict[str, Any]) -> None:
        value = json.dumps(event).encode()
        key = kafka_key(parse_event(value, topic))
        self.messages.append(Message(topic, value, key.encode() if key else None))


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


#: (kind, registration ids) of a dispute → its dispute_id, as the system announced it
ObservedDisputes = Mapping[tuple[str, frozenset[str]], str]


@dataclass
class Workload:
    seed: int
    registrations: int
    deals: int
    base: datetime
    reference: Reference = field(default_factory=Reference)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 (a reproducible workload)
        self.partner_ids = [f"p-{n:03d}" for n in range(max(8, self.registrations // 100))]
        self.accounts: dict[str, list[str]] = {}  # account → its registration ids
        self.capped_accounts: set[str] = set()  # no follow-ups: one submission per wave
        self.next_account = 0
        self.next_registration = 0
        self.won: list[str] = []
        self.lost: list[str] = []
        self.refunded: list[str] = []
        self.late_opportunities: list[str] = []  # their accounts
        self.invoiced: list[str] = []  # deals with invoices
        self.adjusted: list[str] = []  # deals adjusted by hand

    def day(self, days: float) -> datetime:
        return self.base + timedelta(days=days)

    def phases(self, observed: Callable[[], ObservedDisputes]) -> Iterator[Phase]:
        """The phases in order; the settlements need the dispute ids the system gave."""
        yield self._directory()
        yield self._opportunities()
        yield self._wave("wave-1", 0, self.registrations // 2, new=1.0)
        yield self._wave("wave-2", 1, self.registrations * 3 // 10, new=0.35)
        yield self._wave("wave-3", 2, self.registrations - self.registrations // 2
                         - self.registrations * 3 // 10, new=0.4)
        yield self._claims()
        yield self._late_opportunities()
        yield self._settlements(observed())
        yield self._tiers()
        yield self._deals()
        yield self._adjustments()
        yield self._retroactive_policy()
        yield self._refunds()

    # -------------------------------------------------------------------------- phases

    def _directory(self) -> Phase:
        phase = Phase("directory")
        enrolled = self.day(-30)
        partners = [(partner_id, PROGRAMS[n % len(PROGRAMS)]) for n, partner_id
                    in enumerate(self.partner_ids)]
        for partner_id, program in partners:  # only the capped partners are capped
            tier = self.rng.choice([t for t in TIERS if (program, t) != CAPPED])
            self._enroll(phase, partner_id, program, tier, enrolled)
        for partner_id in CAPPED_PARTNERS:
            self._enroll(phase, partner_id, *CAPPED, enrolled)
        terms = Policy(self.day(-30), 1, {}, {}, revenue_share={"msp": {"silver": "0.16"}})
        self.reference.publish_policy(terms)
        self.reference.capacities[CAPPED] = CAPACITY
        program, tier = CAPPED
        phase.add("program.v1", ev.policy_published(
            "chaos-terms", version=1, effective_from=iso(terms.effective_from),
            time=iso(self.day(-31)), holding_days=14,
            registration_capacity={program: {tier: CAPACITY, "silver": None}},
            revenue_share_rates=terms.revenue_share))
        policy = Policy(self.day(18), 1, {"referral": {"gold": "0.26"}},
                        {"direct_sourced": "0.35"}, revenue_share={"msp": {"gold": "0.22"}})
        self.reference.publish_policy(policy)
        phase.add("program.v1", ev.policy_published(
            "chaos-policy", version=1, effective_from=iso(policy.effective_from),
            time=iso(self.day(-1)), commission_rates=policy.rates, co_sell_split=policy.split,
            revenue_share_rates=policy.revenue_share))
        return phase

    def _enroll(self, phase: Phase, partner_id: str, program: str, tier: str,
                enrolled: datetime) -> None:
        self.reference.enroll(partner_id, program, tier, enrolled)
        phase.add("partners.v1", ev.partner_enrolled(partner_id, program=program, tier=tier,
                                                     enrolled_at=iso(enrolled)))

    def _new_account(self) -> str:
        self.next_account += 1
        account = f"acct{self.next_account:06d}.example"
        self.accounts[account] = []
        return account

    def _opportunities(self) -> Phase:
        phase = Phase("opportunities")
        for n in range(max(2, self.registrations // 25)):
            account = self._new_account()
            opened = self.day(-1)
            self.reference.open_opportunity(account, opened)
            phase.add("crm.v1", ev.opportunity_opened(f"o-{n}", domain=account,
                                                      opened_at=iso(opened)))
        return phase

    def _wave(self, name: str, index: int, count: int, *, new: float) -> Phase:
        phase = Phase(name)
        used: set[str] = set()
        fresh_with_opportunity = [a for a, regs in self.accounts.items() if not regs]
        for partner_id, days in CAPPED_PARTNERS.items():
            account = self._new_account()
            self.capped_accounts.add(account)
            self._submit(phase, account, partner_id, self.day(days[index]))
        for _ in range(count - len(CAPPED_PARTNERS)):
            roll = self.rng.random()
            taken = [a for a in self.accounts if self.accounts[a] and a not in used
                     and a not in self.capped_accounts]
            if roll < new or not taken:
                account = (fresh_with_opportunity.pop() if fresh_with_opportunity
                           and self.rng.random() < 0.3 else self._new_account())
                self._submit(phase, account, self.rng.choice(self.partner_ids),
                             self.day(self.rng.uniform(0, 3)))
            else:
                account = self.rng.choice(taken)
                self._follow_up(phase, account, self.rng.random())
            used.add(account)
        return phase

    def _follow_up(self, phase: Phase, account: str, roll: float) -> None:
        """Another registration on an account that has one: duplicate, conflict, earlier
        submission arriving later, invalid, unknown partner, or a join of its dispute."""
        first = self.reference.registrations[self.accounts[account][0]]
        others = [p for p in self.partner_ids if p != first.partner_id]
        if roll < 0.25:
            self._submit(phase, account, first.partner_id, first.submitted_at + timedelta(days=1))
        elif roll < 0.55:
            self._submit(phase, account, self.rng.choice(others),
                         first.submitted_at + timedelta(hours=self.rng.randint(1, 72)))
        elif roll < 0.75:
            self._submit(phase, account, self.rng.choice(others),
                         first.submitted_at - timedelta(hours=self.rng.randint(1, 48)))
        elif roll < 0.85:
            self._submit(phase, account, self.rng.choice(others), self.day(4), valid=False)
        elif roll < 0.9:
            self._submit(phase, account, "p-unknown", self.day(4))
        else:
            self._submit(phase, account, self.rng.choice(others), self.day(5))

    def _submit(self, phase: Phase, account: str, partner_id: str, submitted_at: datetime, *,
                valid: bool = True) -> None:
        self.next_registration += 1
        registration_id = f"r-{self.next_registration:06d}"
        self.accounts[account].append(registration_id)
        self.reference.submit(Registration(registration_id, partner_id, account, submitted_at),
                              valid=valid)
        amount = f"{self.rng.randint(1_000, 900_000)}.00" if valid else "0.00"
        phase.add("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, domain=account, submitted_at=iso(submitted_at),
            amount=amount, currency="USD", expected_close_date=iso(self.day(60))[:10]))

    def _claims(self) -> Phase:
        """Disputes raised, then extensions and withdrawals on accounts without a dispute
        (so that no two of them touch one account)."""
        phase = Phase("claims")
        disputed = {d.account for d in self.reference.disputes if d.open}
        registrations = list(self.reference.registrations.values())
        for r in registrations:
            if r.reason == "conflict" and r.account not in disputed and self.rng.random() < 0.4:
                dispute_id = f"x-{r.registration_id}"
                self.reference.raise_dispute(dispute_id, r.registration_id)
                disputed.add(r.account)
                phase.add("salesops.v1", ev.dispute_raised(dispute_id, r.registration_id,
                                                           raised_at=iso(self.day(6))))
        for r in registrations:
            roll = self.rng.random()
            if r.status != "approved" or r.account in disputed:
                continue
            if roll < 0.2:
                days, at = self.rng.randint(1, 40), self.day(5)
                self.reference.extend(r.registration_id, days, at)
                phase.add("registrations.requests.v1", ev.extension_requested(
                    r.registration_id, r.partner_id, days, iso(at)))
            elif roll > 0.95:
                at = self.day(self.rng.uniform(5, 7))
                self.reference.withdraw(r.registration_id, at)
                phase.add("registrations.requests.v1", ev.withdrawal_requested(
                    r.registration_id, r.partner_id, iso(at)))
        return phase

    def _late_opportunities(self) -> Phase:
        """Direct opportunities on accounts with an approved registration, opened before it
        was submitted (or at that instant): a dispute with the registrations they predate,
        which stay protected until it is settled; one in four opened after it, which only
        meets a protected partner."""
        phase = Phase("late-opportunities")
        with_opportunity = {account for account, _, _ in self.reference.opportunities}
        approved = sorted({r.account for r in self.reference.registrations.values()
                           if r.status == "approved" and r.withdrawn_at is None}
                          - with_opportunity)
        chosen = self.rng.sample(approved, min(len(approved), max(4, len(approved) // 12)))
        for n, account in enumerate(chosen):
            first = min((self.reference.registrations[r] for r in self.accounts[account]
                         if self.reference.registrations[r].status == "approved"),
                        key=lambda r: r.submitted_at)
            hours = self.rng.randint(0, 36)
            opened = first.submitted_at + timedelta(hours=hours if n % 4 == 3 else -hours)
            self.reference.open_opportunity(account, opened)
            self.late_opportunities.append(account)
            phase.add("crm.v1", ev.opportunity_opened(f"o-late-{n}", domain=account,
                                                      opened_at=iso(opened)))
        return phase

    def _settlements(self, observed: ObservedDisputes) -> Phase:
        phase = Phase("settlements")
        for dispute in [d for d in self.reference.disputes if d.open]:
            dispute_id = observed.get(_signature(dispute))
            if dispute_id is None:
                raise DisputeMismatchError(f"the system did not open the expected dispute "
                                      f"{_signature(dispute)}")
            self.reference.settle(dispute)
            winner = dispute.winner
            phase.add("salesops.v1", ev.dispute_resolved(
                dispute_id, {"direct": True} if winner == "direct" else
                {"registration_id": winner}, resolved_at=iso(self.day(8))))
        return phase

    def _tiers(self) -> Phase:
        phase = Phase("tiers")
        for partner_id in self.rng.sample(self.partner_ids, max(1, len(self.partner_ids) // 5)):
            tier, at = self.rng.choice(TIERS), self.day(14)
            self.reference.change_tier(partner_id, tier, at)
            phase.add("partners.v1", ev.partner_tier_changed(partner_id, tier, iso(at)))
        return phase

    def _deals(self) -> Phase:
        phase = Phase("deals")
        registered = [a for a, regs in self.accounts.items() if regs]
        for n in range(self.deals):
            deal_id = f"d-{n:06d}"
            account = (self.rng.choice(registered) if self.rng.random() < 0.75
                       else self._new_account())
            closed_at = self.day(self.rng.uniform(10, 25))
            value = Decimal(self.rng.randint(100_000, 50_000_000)) / 100
            regs = self.accounts[account]
            named = self.rng.choice(regs) if regs and self.rng.random() < 0.5 else None
            co_sell = self.rng.choice(self.partner_ids) if self.rng.random() < 0.15 else None
            won = self.rng.random() < 0.9
            extra: dict[str, Any] = {}
            if named:
                extra["registration_id"] = named
            if co_sell:
                extra |= {"co_sell": True, "co_sell_partner_id": co_sell}
            deal = Deal(deal_id, account, closed_at, value, named, co_sell)
            self.reference.close_deal(deal, won=won)
            (self.won if won else self.lost).append(deal_id)
            closed = ev.deal_closed(deal_id, outcome="won" if won else "lost",
                                    closed_at=iso(closed_at), amount=f"{value:.2f}",
                                    currency="USD", domain=account, **extra)
            invoices = self._invoices(deal) if won else []
            if invoices and self.rng.random() < 0.3:  # read before the deal: same partition
                invoices.append(closed)
            else:
                invoices.insert(0, closed)
            for event in invoices:
                phase.add("crm.v1", event)
        return phase

    def _invoices(self, deal: Deal) -> list[dict[str, Any]]:
        """Monthly invoices of a won deal, mostly of deals an msp partner is paid for (other
        partners earn nothing until the retroactive policy gives referral platinum a rate);
        for some msp deals also the last month of the revenue share and the day after it,
        an invoice in another currency, an invoice sent twice."""
        payee = self.reference.payee(deal)
        msp = payee is not None and self.reference.partners[payee[0]].program == "msp"
        if self.rng.random() >= (0.8 if msp else 0.2 if payee else 0.05):
            return []
        k = len(self.invoiced)
        self.invoiced.append(deal.deal_id)
        invoices: list[tuple[str, date, str]] = []  # id, period start, currency
        first = deal.closed_at.date().replace(day=1)
        for month in range(1, self.rng.randint(2, 4)):
            invoices.append((f"i-{deal.deal_id}-{month}",
                             plus_months(deal.closed_at, month).date().replace(day=1), "USD"))
        if msp and k % 4 == 1:  # the share lasts until the close plus 36 months: a period
            # starting on that date (00:00, before the instant) earns, the day after not
            end = plus_months(deal.closed_at, 36).date()
            invoices += [(f"i-{deal.deal_id}-last", end, "USD"),
                         (f"i-{deal.deal_id}-after", end + timedelta(days=1), "USD")]
        if k % 5 == 2:
            invoices.append((f"i-{deal.deal_id}-eur", first, "EUR"))
        sent = [Invoice(invoice_id, deal.deal_id, start,
                        Decimal(self.rng.randint(10_000, 2_000_000)) / 100, currency)
                for invoice_id, start, currency in invoices]
        if k == 0:  # the same invoice again, in another event: it changes nothing
            sent.append(sent[0])
        events = []
        for invoice in sent:
            self.reference.invoice(invoice)
            end = invoice.period_start + timedelta(days=29)
            events.append(ev.subscription_invoiced(
                invoice.invoice_id, deal.deal_id, period_start=invoice.period_start.isoformat(),
                period_end=end.isoformat(), amount=f"{invoice.recurring_revenue:.2f}",
                currency=invoice.currency,
                invoiced_at=iso(datetime.combine(end + timedelta(days=1), time(), UTC))))
        return events

    def _adjustments(self) -> Phase:
        """Manual adjustments of won deals, for the partner paid, another enrolled partner
        (it earns nothing else on the deal) or a deal paid to nobody; some (deal, partner)
        adjusted twice, one request sent twice; and one request for each rejection."""
        phase = Phase("adjustments")
        at = self.day(35)
        chosen = self.rng.sample(self.won, min(len(self.won), max(6, len(self.won) // 8)))
        everyone = [*self.partner_ids, *CAPPED_PARTNERS]
        accepted = []
        for n, deal_id in enumerate(chosen):
            payee = self.reference.payee(self.reference.deals[deal_id])
            partner_id = (payee[0] if payee is not None and n % 3 != 2
                          else self.rng.choice(everyone))
            for suffix in ("a", "b")[:1 + (n % 4 == 1)]:
                cents = self.rng.randint(1, 100_000) * self.rng.choice((-1, 1))
                accepted.append(Adjustment(f"a-{n}-{suffix}", deal_id, partner_id,
                                           Decimal(cents) / 100, "USD"))
        self.adjusted = chosen
        for adjustment in accepted[:1] * 2 + accepted[1:]:  # the first in two events
            self._adjust(phase, adjustment, at)
        if not self.won:
            return phase
        some_deal = self.won[0]
        for adjustment in (
                Adjustment("a-unknown-deal", "d-unknown", self.partner_ids[0],
                           Decimal("10.00"), "USD"),
                *([Adjustment("a-lost-deal", self.lost[0], self.partner_ids[0],
                              Decimal("10.00"), "USD")] if self.lost else []),
                Adjustment("a-unknown-partner", some_deal, "p-unknown", Decimal("10.00"), "USD"),
                Adjustment("a-other-currency", some_deal, self.partner_ids[0],
                           Decimal("10.00"), "EUR")):
            self._adjust(phase, adjustment, at)
        return phase

    def _adjust(self, phase: Phase, adjustment: Adjustment, at: datetime) -> None:
        self.reference.adjust(adjustment)
        phase.add("salesops.v1", ev.adjustment_requested(
            adjustment.adjustment_id, adjustment.deal_id, adjustment.partner_id,
            amount=f"{adjustment.amount:.2f}", currency=adjustment.currency,
            requested_at=iso(at)))

    def _retroactive_policy(self) -> Phase:
        phase = Phase("retroactive-policy")
        policy = Policy(self.day(20), 2, {"referral": {"gold": "0.28"},
                                          "reseller": {"platinum": "0.32"}}, {},
                        revenue_share={"msp": {"platinum": "0.27"},
                                       "referral": {"platinum": "0.05"}})
        self.reference.publish_policy(policy)
        phase.add("program.v1", ev.policy_published(
            "chaos-policy", version=2, effective_from=iso(policy.effective_from),
            retroactive=True, time=iso(self.day(30)), commission_rates=policy.rates,
            revenue_share_rates=policy.revenue_share))
        return phase

    def _refunds(self) -> Phase:
        phase = Phase("refunds")
        for deal_id in self.won:  # the first adjusted and the first invoiced deal among them
            if self.rng.random() < 0.1 or deal_id in (self.adjusted[:1] + self.invoiced[:1]):
                self.refunded.append(deal_id)
                self.reference.refund(deal_id)
                phase.add("crm.v1", ev.deal_refunded(deal_id, iso(self.day(40))))
        return phase


class DisputeMismatchError(AssertionError):
    """The system's disputes are not the ones the contract gives for the workload."""


def _signature(dispute: Dispute) -> tuple[str, frozenset[str]]:
    return dispute.kind, frozenset(dispute.registration_ids)
