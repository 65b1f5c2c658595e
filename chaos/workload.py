"""A realistic workload, deterministic by seed, in phases, with its expected final state.

Phases are published one after the other, the system drained in between (the suite waits
until every service has read its input topics to the end and published what it stored).
Inside a phase the facts commute: at most one registration per account per wave, one
action per registration, so that the outcome is the same whatever the interleaving of
partitions, restarts and rebalances. The reference (``chaos.reference``) applies the same
facts in the same phase order, which gives the expected final state.

1. directory: partners of both programs and every tier, a policy (not retroactive)
2. opportunities: direct opportunities on some accounts (rule 5 later)
3. waves of registrations: new accounts, duplicates, conflicts, earlier submissions
   arriving later, joins of open disputes, invalid data, unknown partners
4. claims: disputes raised by partners denied for conflict, extensions, withdrawals
5. settlements: every open dispute resolved (a registration or the direct team wins)
6. tiers: tier changes effective before some closes
7. deals: won and lost deals, with and without a registration, named or not, co-sold
8. retroactive policy: a new rate for deals already paid
9. refunds
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chaos.reference import Deal, Dispute, Policy, Reference, Registration
from dealreg.events.schemas import kafka_key, parse_event
from tests.support import events as ev

TIERS = ("bronze", "silver", "gold", "platinum")
PROGRAMS = ("referral", "reseller")


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
        self.next_account = 0
        self.next_registration = 0

    def day(self, days: float) -> datetime:
        return self.base + timedelta(days=days)

    def phases(self, observed: Callable[[], ObservedDisputes]) -> Iterator[Phase]:
        """The phases in order; the settlements need the dispute ids the system gave."""
        yield self._directory()
        yield self._opportunities()
        yield self._wave("wave-1", self.registrations // 2, new=1.0)
        yield self._wave("wave-2", self.registrations * 3 // 10, new=0.35)
        yield self._wave("wave-3", self.registrations - self.registrations // 2
                         - self.registrations * 3 // 10, new=0.4)
        yield self._claims()
        yield self._settlements(observed())
        yield self._tiers()
        yield self._deals()
        yield self._retroactive_policy()
        yield self._refunds()

    # -------------------------------------------------------------------------- phases

    def _directory(self) -> Phase:
        phase = Phase("directory")
        enrolled = self.day(-30)
        for partner_id in self.partner_ids:
            program, tier = self.rng.choice(PROGRAMS), self.rng.choice(TIERS)
            self.reference.enroll(partner_id, program, tier, enrolled)
            phase.add("partners.v1", ev.partner_enrolled(partner_id, program=program, tier=tier,
                                                         enrolled_at=iso(enrolled)))
        policy = Policy(self.day(18), 1, {"referral": {"gold": "0.26"}},
                        {"direct_sourced": "0.35"})
        self.reference.publish_policy(policy)
        phase.add("program.v1", ev.policy_published(
            "chaos-policy", version=1, effective_from=iso(policy.effective_from),
            time=iso(self.day(-1)), commission_rates=policy.rates, co_sell_split=policy.split))
        return phase

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

    def _wave(self, name: str, count: int, *, new: float) -> Phase:
        phase = Phase(name)
        used: set[str] = set()
        fresh_with_opportunity = [a for a, regs in self.accounts.items() if not regs]
        for _ in range(count):
            roll = self.rng.random()
            taken = [a for a in self.accounts if self.accounts[a] and a not in used]
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
        self.won: list[str] = []
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
            self.reference.close_deal(Deal(deal_id, account, closed_at, value, named, co_sell),
                                      won=won)
            if won:
                self.won.append(deal_id)
            phase.add("crm.v1", ev.deal_closed(deal_id, outcome="won" if won else "lost",
                                               closed_at=iso(closed_at), amount=f"{value:.2f}",
                                               currency="USD", domain=account, **extra))
        return phase

    def _retroactive_policy(self) -> Phase:
        phase = Phase("retroactive-policy")
        policy = Policy(self.day(20), 2, {"referral": {"gold": "0.28"},
                                          "reseller": {"platinum": "0.32"}}, {})
        self.reference.publish_policy(policy)
        phase.add("program.v1", ev.policy_published(
            "chaos-policy", version=2, effective_from=iso(policy.effective_from),
            retroactive=True, time=iso(self.day(30)), commission_rates=policy.rates))
        return phase

    def _refunds(self) -> Phase:
        phase = Phase("refunds")
        for deal_id in self.won:
            if self.rng.random() < 0.1:
                self.reference.refund(deal_id)
                phase.add("crm.v1", ev.deal_refunded(deal_id, iso(self.day(40))))
        return phase


class DisputeMismatchError(AssertionError):
    """The system's disputes are not the ones the contract gives for the workload."""


def _signature(dispute: Dispute) -> tuple[str, frozenset[str]]:
    return dispute.kind, frozenset(dispute.registration_ids)
