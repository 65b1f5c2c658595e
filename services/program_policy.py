"""Program policies (CONTRACT §6): the default, published versions, and the one in force.

Pure functions of the published facts. A published policy may leave parts of its body
out: those keep the value of the policy in force before it, i.e. the one that precedes it
in (``effective_from``, ``version``) order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.identity import business_id
from dealreg.processing import UnitOfWork

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    tier_bonuses: tuple[TierBonus, ...] = field(default=())

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.effective_from, self.version)

    def window_days(self, program: str, tier: str) -> int:
        return self.registration_window_days[program][tier]

    def window_end(self, protected_from: datetime, program: str, tier: str) -> datetime:
        """``expires_at`` of a window that starts at ``protected_from``."""
        return protected_from + timedelta(days=self.window_days(program, tier))


DEFAULT_POLICY = Policy(
    policy_id="default",
    version=0,
    effective_from=EPOCH,
    retroactive=False,
    registration_window_days={
        "referral": {"bronze": 30, "silver": 30, "gold": 45, "platinum": 60},
        "reseller": {"bronze": 60, "silver": 60, "gold": 75, "platinum": 90},
    },
    commission_rates={
        "referral": {tier: Decimal(rate) for tier, rate in
                     (("bronze", "0.15"), ("silver", "0.20"), ("gold", "0.25"),
                      ("platinum", "0.30"))},
        "reseller": {tier: Decimal(rate) for tier, rate in
                     (("bronze", "0.20"), ("silver", "0.24"), ("gold", "0.27"),
                      ("platinum", "0.30"))},
    },
    max_total_days=90,
    max_extension_days=30,
    co_sell_split={"partner_sourced": Decimal("0.70"), "direct_sourced": Decimal("0.30")},
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
        return business_id("policy-book", "program.v1")

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


def policy_book(unit: UnitOfWork) -> PolicyBook:
    """The service's policy book, opened on first use."""
    return unit.get_or_add(PolicyBook, PolicyBook.create_id(), PolicyBook)


def _body(data: PolicyPublished) -> dict[str, Any]:
    """The parts of the policy body the event sets, as plain values (Decimals, datetimes)."""
    body: dict[str, Any] = {}
    for name in ("registration_window_days", "commission_rates", "max_total_days",
                 "max_extension_days"):
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
    if not policy_book(unit).publish(policy):
        log.info("policy version already known; ignored",
                 extra={"policy_id": policy.policy_id, "version": policy.version})
        return None
    return policy
