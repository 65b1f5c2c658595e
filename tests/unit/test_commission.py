"""docs/contract.md §6 commission rules, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dealreg.services.payouts.commission import (
    Deal,
    Payout,
    Protection,
    Withheld,
    compute,
    owner_of,
    round_money,
)
from dealreg.services.program_policy import DEFAULT_POLICY, Policy, TierBonus

C = datetime(2026, 4, 10, tzinfo=UTC)
PARTNERS = {"p-ref": ("referral", "gold"), "p-res": ("reseller", "silver"),
            "p-plat": ("referral", "platinum")}


def partner_at(partner_id: str, instant: datetime) -> tuple[str, str] | None:
    if partner_id == "p-upgraded":
        return ("referral", "gold" if instant >= C - timedelta(days=5) else "bronze")
    return PARTNERS.get(partner_id)


def protection(registration_id: str = "r-1", partner_id: str = "p-ref", *,
               days_before: int = 10, window: int = 45) -> Protection:
    start = C - timedelta(days=days_before)
    return Protection(registration_id, partner_id, start, start + timedelta(days=window))


DEAL = Deal("d-1", "domain:acme.example", C, Decimal("100000.00"), "EUR")


def pay(deal: Deal = DEAL, protections: list[Protection] | None = None,
        dispute_open: bool = False, policy: Policy = DEFAULT_POLICY) -> Payout | Withheld:
    return compute(deal, protections=protections if protections is not None else [protection()],
                   dispute_open=dispute_open, partner_at=partner_at, policy=policy)


@pytest.mark.parametrize(("amount", "rounded"), [
    ("0.005", "0.00"), ("0.015", "0.02"), ("0.025", "0.02"), ("2.675", "2.68"),
    ("-0.015", "-0.02"), ("1.004999", "1.00"),
])
def test_rounding_is_half_even_to_cents(amount: str, rounded: str) -> None:
    assert round_money(Decimal(amount)) == Decimal(rounded)


def test_a_partner_sourced_deal_pays_the_tier_rate_at_the_close() -> None:
    payout = pay()
    assert isinstance(payout, Payout)
    assert payout.partner_id == "p-ref"
    assert payout.registration_id == "r-1"
    [line] = payout.lines
    assert (line.kind, line.rate, line.share, line.amount) == (
        "commission", Decimal("0.25"), Decimal(1), Decimal("25000.00"))
    assert payout.total == Decimal("25000.00")
    assert (payout.basis.program, payout.basis.tier, payout.basis.sourced) == (
        "referral", "gold", "partner")
    assert (payout.basis.policy_id, payout.basis.policy_version) == ("default", 0)


def test_half_cents_round_to_even_in_lines() -> None:
    deal = replace(DEAL, value=Decimal("0.10"))  # 0.10 x 0.25 = 0.025
    payout = pay(deal)
    assert isinstance(payout, Payout)
    assert payout.total == Decimal("0.02")
    reseller = pay(replace(DEAL, value=Decimal("10.625")), [protection(partner_id="p-res")])
    assert isinstance(reseller, Payout)
    assert reseller.total == Decimal("2.55")  # 10.625 x 0.24 = 2.55


def test_the_owner_is_the_named_registration_when_it_is_protected() -> None:
    first = protection("r-1", "p-ref", days_before=20)
    named = protection("r-2", "p-res", days_before=5)
    assert owner_of(replace(DEAL, registration_id="r-2"), [first, named]) == named
    assert owner_of(DEAL, [first, named]) == first
    expired = protection("r-3", "p-ref", days_before=60)
    assert owner_of(replace(DEAL, registration_id="r-3"), [expired, named]) == named


def test_co_sell_in_both_directions() -> None:
    partner_sourced = pay(replace(DEAL, co_sell=True, co_sell_partner_id="p-res"))
    assert isinstance(partner_sourced, Payout)
    assert partner_sourced.partner_id == "p-ref"
    assert partner_sourced.lines[0].share == Decimal("0.70")
    assert partner_sourced.total == Decimal("17500.00")  # 100000 x 0.25 x 0.70

    direct_sourced = pay(replace(DEAL, co_sell=True, co_sell_partner_id="p-res"), [])
    assert isinstance(direct_sourced, Payout)
    assert direct_sourced.partner_id == "p-res"
    assert direct_sourced.registration_id is None
    assert direct_sourced.basis.sourced == "direct"
    assert direct_sourced.total == Decimal("7200.00")  # 100000 x 0.24 x 0.30


def test_each_withheld_reason() -> None:
    assert pay(protections=[]) == Withheld("no_registration")
    assert pay(protections=[protection(days_before=60)]) == Withheld(
        "registration_not_protected")
    assert pay(replace(DEAL, registration_id="r-elsewhere"), []) == Withheld(
        "registration_not_protected")
    assert pay(protections=[], dispute_open=True) == Withheld("dispute_open")
    unknown_co_seller = replace(DEAL, co_sell=True, co_sell_partner_id="p-unknown")
    assert pay(unknown_co_seller, []) == Withheld("no_registration")


def test_withdrawn_before_the_close_is_not_protected() -> None:
    withdrawn = replace(protection(), withdrawn_at=C - timedelta(days=1))
    assert pay(protections=[withdrawn]) == Withheld("registration_not_protected")
    assert isinstance(pay(protections=[replace(protection(), withdrawn_at=C)]), Withheld)
    later = replace(protection(), withdrawn_at=C + timedelta(seconds=1))
    assert isinstance(pay(protections=[later]), Payout)


BONUS = TierBonus(tier="gold", qualify_by=C - timedelta(days=30),
                  closed_from=C - timedelta(days=10), closed_to=C + timedelta(days=10),
                  rate=Decimal("0.02"))


@pytest.mark.parametrize(("bonus", "partner_id", "expected"), [
    (BONUS, "p-ref", Decimal("2000.00")),  # gold qualifies for gold
    (BONUS, "p-plat", Decimal("2000.00")),  # platinum is at least gold
    (BONUS, "p-res", None),  # silver is below gold
    (replace(BONUS, closed_from=C + timedelta(seconds=1)), "p-ref", None),  # out of range
    (replace(BONUS, closed_to=C - timedelta(seconds=1)), "p-ref", None),
    (replace(BONUS, closed_to=C), "p-ref", Decimal("2000.00")),  # the range is inclusive
    # the tier counts at qualify_by: bronze then, gold at the close
    (replace(BONUS, qualify_by=C - timedelta(days=30)), "p-upgraded", None),
])
def test_tier_bonuses_by_tier_and_date_range(
    bonus: TierBonus, partner_id: str, expected: Decimal | None
) -> None:
    policy = replace(DEFAULT_POLICY, tier_bonuses=(bonus,))
    payout = pay(protections=[protection(partner_id=partner_id)], policy=policy)
    assert isinstance(payout, Payout)
    bonuses = [line.amount for line in payout.lines if line.kind == "tier_bonus"]
    assert bonuses == ([] if expected is None else [expected])
    assert payout.total == sum((line.amount for line in payout.lines), Decimal(0))


def test_the_bonus_share_follows_co_selling() -> None:
    policy = replace(DEFAULT_POLICY, tier_bonuses=(BONUS,))
    payout = pay(replace(DEAL, co_sell=True), policy=policy)
    assert isinstance(payout, Payout)
    assert [line.amount for line in payout.lines] == [Decimal("17500.00"), Decimal("1400.00")]
