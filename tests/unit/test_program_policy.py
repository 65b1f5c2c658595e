"""Program policies: the default, partial bodies completed by their predecessor, selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dealreg.services.program_policy import (
    DEFAULT_POLICY,
    PolicyBook,
    PublishedPolicy,
    in_force,
    resolve,
)


def at(day: int) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC)


def published(policy_id: str, version: int, day: int, **body: object) -> PublishedPolicy:
    return PublishedPolicy(policy_id, version, at(day), False, body)


def test_the_default_policy_is_in_force_from_the_epoch() -> None:
    policy = in_force(resolve([]), at(1))
    assert policy is DEFAULT_POLICY
    assert policy.window_days("referral", "gold") == 45
    assert policy.window_days("reseller", "platinum") == 90
    assert policy.commission_rates["reseller"]["silver"] == Decimal("0.24")
    assert (policy.max_total_days, policy.max_extension_days) == (90, 30)
    assert policy.co_sell_split == {"partner_sourced": Decimal("0.70"),
                                    "direct_sourced": Decimal("0.30")}


def test_parts_left_out_keep_the_value_of_the_policy_before() -> None:
    policies = resolve([
        published("spring", 1, 10, registration_window_days={"referral": {"gold": 50}}),
        published("summer", 1, 20, max_extension_days=10,
                  co_sell_split={"partner_sourced": Decimal("0.60")}),
    ])
    summer = in_force(policies, at(25))
    assert summer.policy_id == "summer"
    assert summer.window_days("referral", "gold") == 50  # from spring
    assert summer.window_days("referral", "bronze") == 30  # from the default
    assert summer.max_extension_days == 10
    assert summer.co_sell_split == {"partner_sourced": Decimal("0.60"),
                                    "direct_sourced": Decimal("0.30")}


def test_the_policy_in_force_has_the_greatest_effective_from_then_version() -> None:
    policies = resolve([
        published("b", 2, 10, max_total_days=100),
        published("a", 1, 10, max_total_days=80),
        published("c", 1, 15, max_total_days=120),
    ])
    assert in_force(policies, at(9)).policy_id == "default"
    assert in_force(policies, at(10)).policy_id == "b"  # same effective_from, higher version
    assert in_force(policies, at(14)).max_total_days == 100
    assert in_force(policies, at(15) - timedelta(seconds=1)).policy_id == "b"
    assert in_force(policies, at(15)).policy_id == "c"


def test_the_policy_book_ignores_a_version_it_already_has() -> None:
    book = PolicyBook()
    assert book.publish(published("spring", 1, 10, max_total_days=60)) is True
    assert book.publish(published("spring", 1, 10, max_total_days=70)) is False
    assert book.in_force(at(11)).max_total_days == 60
    assert book.in_force(at(9)).policy_id == "default"


def test_a_published_policy_keeps_its_rates_as_decimals() -> None:
    from dealreg.events.schemas import parse_event
    from dealreg.events.schemas.inputs import PolicyPublished
    from dealreg.processing import UnitOfWork
    from dealreg.services.payouts.app import PayoutsApplication
    from dealreg.services.program_policy import publish_policy
    from tests.support import events as ev

    app = PayoutsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    unit = UnitOfWork(app)
    event = parse_event(ev.encode(ev.policy_published(
        commission_rates={"referral": {"gold": "0.31"}},
        co_sell_split={"direct_sourced": "0.25"},
        tier_bonuses=[{"tier": "gold", "qualify_by": "2026-04-01T00:00:00Z",
                       "closed_from": "2026-04-01T00:00:00Z",
                       "closed_to": "2026-06-30T00:00:00Z", "rate": "0.02"}])), "program.v1")
    assert isinstance(event.data, PolicyPublished)
    publish_policy(unit, event.data)
    [book] = unit.aggregates()
    assert isinstance(book, PolicyBook)
    policy = book.in_force(at(1) + timedelta(days=60))
    assert policy.commission_rates["referral"]["gold"] == Decimal("0.31")
    assert policy.co_sell_split["direct_sourced"] == Decimal("0.25")
    assert policy.tier_bonuses[0].rate == Decimal("0.02")
