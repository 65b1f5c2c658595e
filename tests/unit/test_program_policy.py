"""Program policies: the default, partial bodies completed by their predecessor, selection."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from dealreg.services.program_policy import (
    DEFAULT_POLICY,
    PolicyBook,
    PublishedPolicy,
    in_force,
    resolve,
)

TIERS = ("bronze", "silver", "gold", "platinum")


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


# ------------------------------------------------------------------ contract 1.1


def test_the_default_policy_has_msp_windows_and_rates_and_no_capacity_limit() -> None:
    policy = DEFAULT_POLICY
    assert [policy.window_days("msp", tier) for tier in TIERS] == [60, 60, 75, 90]
    assert {policy.commission_rate("msp", tier) for tier in TIERS} == {Decimal("0.00")}
    assert [policy.revenue_share_rate("msp", tier) for tier in TIERS] == [
        Decimal("0.10"), Decimal("0.15"), Decimal("0.20"), Decimal("0.25")]
    for program in ("referral", "reseller"):
        assert {policy.revenue_share_rate(program, tier) for tier in TIERS} == {Decimal("0")}
    assert {policy.capacity(program, tier) for program in ("referral", "reseller", "msp")
            for tier in TIERS} == {None}
    assert (policy.holding_days, policy.revenue_share_months) == (0, 36)
    assert policy.payable_on(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == date(2026, 3, 31)


def test_partial_program_tier_bodies_merge_cell_by_cell() -> None:
    policies = resolve([
        published("caps", 1, 10, registration_capacity={"msp": {"bronze": 5, "gold": 0}},
                  revenue_share_rates={"msp": {"gold": Decimal("0.22")},
                                       "reseller": {"platinum": Decimal("0.05")}}),
        published("more", 1, 20, registration_capacity={"msp": {"gold": None, "silver": 8}}),
    ])
    caps, more = in_force(policies, at(15)), in_force(policies, at(25))
    assert [caps.capacity("msp", tier) for tier in TIERS] == [5, None, 0, None]
    assert [more.capacity("msp", tier) for tier in TIERS] == [5, 8, None, None]  # null: none
    assert more.capacity("referral", "gold") is None
    assert [more.revenue_share_rate("msp", tier) for tier in TIERS] == [
        Decimal("0.10"), Decimal("0.15"), Decimal("0.22"), Decimal("0.25")]
    assert more.revenue_share_rate("reseller", "platinum") == Decimal("0.05")
    assert more.revenue_share_rate("reseller", "gold") == Decimal("0.00")
    assert DEFAULT_POLICY.capacity("msp", "bronze") is None  # the default is not changed


def test_holding_days_and_revenue_share_months_zero_are_values_not_gaps() -> None:
    policies = resolve([
        published("hold", 1, 10, holding_days=30, revenue_share_months=12),
        published("zero", 1, 20, holding_days=0, revenue_share_months=0),
        published("other", 1, 25, max_total_days=100),
    ])
    hold, zero, other = (in_force(policies, at(day)) for day in (15, 22, 26))
    assert (hold.holding_days, hold.revenue_share_months) == (30, 12)
    assert (zero.holding_days, zero.revenue_share_months) == (0, 0)
    assert (other.holding_days, other.revenue_share_months) == (0, 0)  # kept from "zero"
    assert hold.payable_on(at(15)) == date(2026, 4, 14)
    assert zero.payable_on(at(22)) == date(2026, 3, 22)


def test_payable_on_is_the_utc_date_of_the_instant_plus_the_holding_days() -> None:
    policy = resolve([published("hold", 1, 1, holding_days=10)])[-1]
    late_evening_in_new_york = datetime(2026, 3, 31, 22, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert policy.payable_on(late_evening_in_new_york) == date(2026, 4, 11)


def test_a_published_policy_keeps_the_contract_11_fields() -> None:
    from dealreg.events.schemas import parse_event
    from dealreg.events.schemas.inputs import PolicyPublished
    from dealreg.processing import UnitOfWork
    from dealreg.services.payouts.app import PayoutsApplication
    from dealreg.services.program_policy import publish_policy
    from tests.support import events as ev

    app = PayoutsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    unit = UnitOfWork(app)
    event = parse_event(ev.encode(ev.policy_published(
        registration_capacity={"msp": {"gold": 3, "bronze": None}}, holding_days=0,
        revenue_share_rates={"msp": {"gold": "0.21"}}, revenue_share_months=24)),
        "program.v1")
    assert isinstance(event.data, PolicyPublished)
    publish_policy(unit, event.data)
    [book] = unit.aggregates()
    assert isinstance(book, PolicyBook)
    policy = book.in_force(at(1) + timedelta(days=60))
    assert policy.capacity("msp", "gold") == 3
    assert policy.capacity("msp", "bronze") is None
    assert policy.revenue_share_rate("msp", "gold") == Decimal("0.21")
    assert (policy.holding_days, policy.revenue_share_months) == (0, 24)
