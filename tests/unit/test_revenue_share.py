"""docs/contract.md §11 as pure functions: calendar months, and which invoice earns what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from dealreg.services.payouts.commission import Basis, Line, Payout
from dealreg.services.payouts.revenue_share import Invoice, add_months, earning
from dealreg.services.program_policy import DEFAULT_POLICY, Policy

CLOSED = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)
OWNER = Payout("p-1", "r-1", (), Basis("msp", "gold", "default", 0, "partner"),
               Decimal("0.70"))


@pytest.mark.parametrize(("months", "expected"), [
    (1, datetime(2026, 2, 28, 15, 0, tzinfo=UTC)),   # no 31 February: its last day
    (13, datetime(2027, 2, 28, 15, 0, tzinfo=UTC)),
    (25, datetime(2028, 2, 29, 15, 0, tzinfo=UTC)),  # a leap year
    (36, datetime(2029, 1, 31, 15, 0, tzinfo=UTC)),
    (0, CLOSED),
])
def test_months_are_calendar_months(months: int, expected: datetime) -> None:
    assert add_months(CLOSED, months) == expected


def test_months_past_the_calendars_end_stop_there() -> None:
    assert add_months(CLOSED, 12 * 9000).year == 9999


def invoice(period_start: date, *, amount: str = "1000.00", currency: str = "EUR") -> Invoice:
    return Invoice("inv-1", "d-1", period_start, period_start, Decimal(amount), currency,
                   datetime.combine(period_start, datetime.min.time(), tzinfo=UTC))


def earns(inv: Invoice, *, policy: Policy = DEFAULT_POLICY,
          tier: str = "gold") -> Line | None:
    found = earning(inv, closed_at=CLOSED, currency="EUR", owner=OWNER,
                    partner_at=lambda _partner, _at: ("msp", tier), policy_at=lambda _: policy)
    return None if found is None else found.line


def test_an_earning_invoice_gives_base_times_rate_times_share_rounded_half_even() -> None:
    assert earns(invoice(date(2026, 3, 1), amount="1000.05")) == Line(
        "revenue_share", Decimal("1000.05"), Decimal("0.20"), Decimal("0.70"),
        Decimal("140.01"))  # 140.007


def test_the_last_period_that_starts_before_the_months_end_earns() -> None:
    assert earns(invoice(date(2029, 1, 31))) is not None  # 00:00, before 15:00
    assert earns(invoice(date(2029, 2, 1))) is None


def test_an_invoice_in_another_currency_earns_nothing() -> None:
    assert earns(invoice(date(2026, 3, 1), currency="USD")) is None


def test_a_rate_of_zero_earns_nothing() -> None:
    zero = replace(DEFAULT_POLICY, revenue_share_rates={"msp": {"gold": Decimal("0")}})
    assert earns(invoice(date(2026, 3, 1)), policy=zero) is None


def test_the_rate_is_the_partners_tier_at_the_periods_start() -> None:
    line = earns(invoice(date(2026, 3, 1)), tier="platinum")
    assert line is not None
    assert line.rate == Decimal("0.25")


def test_a_zero_revenue_invoice_still_earns_a_line_of_zero() -> None:
    line = earns(invoice(date(2026, 3, 1), amount="0.00"))
    assert line is not None
    assert line.amount == Decimal("0.00")
