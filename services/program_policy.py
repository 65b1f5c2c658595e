"""Program policies (docs/contract.md §6): the default, published versions, and the one in force.

Pure functions of the published facts. A published policy may leave parts of its body
out: those keep the value of the policy in force before it, i.e. the one that precedes it
in (``effective_from``, ``version``) order. A ``{program: {tier: value}}`` field given in
part merges cell by cell; a ``registration_capacity`` cell given as null sets "no limit"
(docs/contract.md §6, §8).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.audit import plain
from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.eventstore import ServiceApplication
from dealreg.identity import business_id
from dealreg.processing import UnitOfWork

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def business_date(instant: datetime) -> date:
    """The UTC calendar date of ``instant``: every business time is kept in UTC."""
    return instant.astimezone(UTC).date()


@dataclass(frozen=True)
class TierBonus:
    tier: str
    qualify_by: datetime
    closed_from: datetime
    closed_to: datetime
    rate: Decimal


@dataclass(frozen=True)
class Policy:
    policy_id: str
    version: int
    effective_from: datetime
    retroactive: bool
    registration_window_days: Mapping[str, Mapping[str, int]]
    commission_rates: Mapping[str, Mapping[str, Decimal]]
    max_total_days: int
    max_extension_days: int
    co_sell_split: Mapping[str, Decimal]
    registration_capacity: Mapping[str, Mapping[str, int | None]]
    holding_days: int
    revenue_share_rates: Mapping[str, Mapping[str, Decimal]]
    revenue_share_months: int
    tier_bonuses: tuple[TierBonus, ...] = field(default=())

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.effective_from, self.version)

    def window_days(self, program: str, tier: str) -> int:
        return self.registration_window_days[program][tier]

    def window_end(self, protected_from: datetime, program: str, tier: str) -> datetime:
        """``expires_at`` of a window that starts at ``protected_from``."""
        return protected_from + timedelta(days=self.window_days(program, tier))

    def commission_rate(self, program: str, tier: str) -> Decimal:
        return self.commission_rates[program][tier]

    def capacity(self, program: str, tier: str) -> int | None:
        """How many open registrations a partner may hold; None: no limit (§8)."""
        return self.registration_capacity[program][tier]

    def revenue_share_rate(self, program: str, tier: str) -> Decimal:
        """The share of each earning invoice's recurring revenue (§11)."""
        return self.revenue_share_rates[program][tier]

    def payable_on(self, instant: datetime) -> date:
        """When billing may pay a payout event decided for ``instant`` (a deal's
        ``closed_at``, or an invoice's ``invoiced_at`` for its own ``payout.calculated``),
        this policy being the one in force at ``instant``: the date of ``instant`` plus
        ``holding_days`` (§9). A date past the calendar's end is its last day."""
        try:
            return business_date(instant) + timedelta(days=self.holding_days)
        except OverflowError:
            return date.max


_TIERS = ("bronze", "silver", "gold", "platinum")
_PROGRAMS = ("referral", "reseller", "msp")


def _rates(*rates: str) -> dict[str, Decimal]:
    """Bronze to platinum."""
    return {tier: Decimal(rate) for tier, rate in zip(_TIERS, rates, strict=True)}


DEFAULT_POLICY = Policy(
    policy_id="default",
    version=0,
    effective_from=EPOCH,
    retroactive=False,
    registration_window_days={
        "referral": {"bronze": 30, "silver": 30, "gold": 45, "platinum": 60},
        "reseller": {"bronze": 60, "silver": 60, "gold": 75, "platinum": 90},
        "msp": {"bronze": 60, "silver": 60, "gold": 75, "platinum": 90},
    },
    commission_rates={
        "referral": _rates("0.15", "0.20", "0.25", "0.30"),
        "reseller": _rates("0.20", "0.24", "0.27", "0.30"),
        "msp": _rates("0.00", "0.00", "0.00", "0.00"),
    },
    max_total_days=90,
    max_extension_days=30,
    co_sell_split={"partner_sourced": Decimal("0.70"), "direct_sourced": Decimal("0.30")},
    registration_capacity={program: dict.fromkeys(_TIERS) for program in _PROGRAMS},
    holding_days=0,
    revenue_share_rates={
        "referral": _rates("0.00", "0.00", "0.00", "0.00"),
        "reseller": _rates("0.00", "0.00", "0.00", "0.00"),
        "msp": _rates("0.10", "0.15", "0.20", "0.25"),
    },
    revenue_share_months=36,
)


@dataclass(frozen=True)
class PublishedPolicy:
    """A ``policy.published`` as received: the parts it sets, the rest left to its predecessor."""

    policy_id: str
    version: int
    effective_from: datetime
    retroactive: bool
    body: Mapping[str, Any]

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.effective_from, self.version)


def _nested_update(
    base: Mapping[str, Mapping[str, Any]], update: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    merged = {program: dict(values) for program, values in base.items()}
    for program, values in (update or {}).items():
        merged.setdefault(program, {}).update(values)
    return merged


def _kept(previous: int, given: int | None) -> int:
    """``given`` unless the body left it out (0 is a value: a holding period of no days)."""
    return previous if given is None else given


def apply(previous: Policy, published: PublishedPolicy) -> Policy:
    """``published`` completed by ``previous`` (the policy it follows)."""
    body = published.body
    split = dict(previous.co_sell_split)
    split.update({k: v for k, v in (body.get("co_sell_split") or {}).items() if v is not None})
    bonuses = body.get("tier_bonuses")
    return replace(
        previous,
        policy_id=published.policy_id,
        version=published.version,
        effective_from=published.effective_from,
        retroactive=published.retroactive,
        registration_window_days=_nested_update(
            previous.registration_window_days, body.get("registration_window_days")),
        commission_rates=_nested_update(previous.commission_rates, body.get("commission_rates")),
        max_total_days=body.get("max_total_days") or previous.max_total_days,
        max_extension_days=body.get("max_extension_days") or previous.max_extension_days,
        co_sell_split=split,
        registration_capacity=_nested_update(previous.registration_capacity,
                                             body.get("registration_capacity")),
        holding_days=_kept(previous.holding_days, body.get("holding_days")),
        revenue_share_rates=_nested_update(previous.revenue_share_rates,
                                           body.get("revenue_share_rates")),
        revenue_share_months=_kept(previous.revenue_share_months,
                                   body.get("revenue_share_months")),
        tier_bonuses=previous.tier_bonuses if bonuses is None else tuple(
            TierBonus(**bonus) for bonus in bonuses),
    )


def resolve(published: Iterable[PublishedPolicy]) -> list[Policy]:
    """Every policy, completed, in (``effective_from``, ``version``) order after the default."""
    policies = [DEFAULT_POLICY]
    for item in sorted(published, key=lambda p: p.order):
        policies.append(apply(policies[-1], item))
    return policies


def in_force(policies: list[Policy], at: datetime) -> Policy:
    """The policy with the greatest (``effective_from``, ``version``) in force at ``at``."""
    current = policies[0]
    for policy in policies:
        if policy.effective_from <= at:
            current = policy
    return current


_POLICY_BOOK_ID = business_id("policy-book", "program.v1")


class PolicyBook(Aggregate):
    """Every policy published on ``program.v1``, as one service has read them."""

    class Opened(Aggregate.Created):
        pass

    class Published(Aggregate.Event):
        policy_id: str
        version: int
        effective_from: datetime
        retroactive: bool
        body: dict[str, Any]

    @staticmethod
    def create_id() -> UUID:
        return _POLICY_BOOK_ID

    @event(Opened)
    def __init__(self) -> None:
        self.published: list[PublishedPolicy] = []

    def publish(self, policy: PublishedPolicy) -> bool:
        """Record ``policy``; False when this (policy_id, version) is already known."""
        if any((p.policy_id, p.version) == (policy.policy_id, policy.version)
               for p in self.published):
            return False
        self._published(policy_id=policy.policy_id, version=policy.version,
                        effective_from=policy.effective_from, retroactive=policy.retroactive,
                        body=dict(policy.body))
        return True

    @event(Published)
    def _published(self, *, policy_id: str, version: int, effective_from: datetime,
                   retroactive: bool, body: dict[str, Any]) -> None:
        self.published.append(
            PublishedPolicy(policy_id, version, effective_from, retroactive, body))

    def policies(self) -> list[Policy]:
        return resolve(self.published)

    def in_force(self, at: datetime) -> Policy:
        return in_force(self.policies(), at)


def policy_document(policy: Policy) -> dict[str, Any]:
    """Every field of a completed policy as JSON values: decimals and times as strings."""
    document: dict[str, Any] = plain(asdict(policy))
    return document


def stored_policies(app: ServiceApplication) -> list[Policy]:
    """Every policy a service has stored, completed, after the default (for the tools that
    read its store; only the default before any policy was published)."""
    book = app.get_or_none(PolicyBook.create_id())
    return book.policies() if isinstance(book, PolicyBook) else resolve(())


def policy_book(unit: UnitOfWork) -> PolicyBook:
    """The service's policy book to read: before any policy is published, an empty one
    (only the default policy) that is not stored, made once (every submission reads it)."""
    return unit.get(PolicyBook, PolicyBook.create_id()) or _empty_book()


@functools.cache
def _empty_book() -> PolicyBook:
    return PolicyBook()


def _body(data: PolicyPublished) -> dict[str, Any]:
    """The parts of the policy body the event sets, as plain values (Decimals, datetimes)."""
    body: dict[str, Any] = {}
    for name in ("registration_window_days", "commission_rates", "max_total_days",
                 "max_extension_days", "registration_capacity", "holding_days",
                 "revenue_share_rates", "revenue_share_months"):
        if (value := getattr(data, name)) is not None:
            body[name] = value
    if data.co_sell_split is not None:
        body["co_sell_split"] = {k: v for k, v in vars(data.co_sell_split).items()
                                 if v is not None}
    if data.tier_bonuses is not None:
        body["tier_bonuses"] = [dict(vars(bonus)) for bonus in data.tier_bonuses]
    return body


def publish_policy(unit: UnitOfWork, data: PolicyPublished) -> PublishedPolicy | None:
    """Handler of ``policy.published``; returns the policy when it is new."""
    policy = PublishedPolicy(
        policy_id=data.policy_id, version=data.version, effective_from=data.effective_from,
        retroactive=data.retroactive,
        body=_body(data),
    )
    book = unit.get_or_add(PolicyBook, PolicyBook.create_id(), PolicyBook)
    if not book.publish(policy):
        log.info("policy version already known; ignored",
                 extra={"policy_id": policy.policy_id, "version": policy.version})
        return None
    return policy
