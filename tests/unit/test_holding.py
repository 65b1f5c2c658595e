"""docs/contract.md §9: payable_on and clawback, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dealreg.services.payouts.holding import clawback
from dealreg.services.program_policy import DEFAULT_POLICY


def payable_on(instant: datetime, holding_days: int) -> date:
    return replace(DEFAULT_POLICY, holding_days=holding_days).payable_on(instant)


CLOSE = datetime(2026, 4, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(("holding_days", "expected"), [
    (0, date(2026, 4, 10)), (1, date(2026, 4, 11)), (30, date(2026, 5, 10)),
    (365, date(2027, 4, 10)),
])
def test_payable_on_is_the_date_of_the_instant_plus_the_holding_days(
    holding_days: int, expected: date
) -> None:
    assert payable_on(CLOSE, holding_days) == expected


def test_the_date_of_an_instant_is_its_utc_date() -> None:
    after_midnight_in_berlin = datetime(2026, 4, 11, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert payable_on(after_midnight_in_berlin, 0) == date(2026, 4, 10)


def test_a_payable_date_past_the_calendar_is_its_last_day() -> None:
    assert payable_on(datetime(9999, 12, 1, tzinfo=UTC), 3650) == date.max


@pytest.mark.parametrize(("delta", "fact", "expected"), [
    ("-10.00", datetime(2026, 5, 11, tzinfo=UTC), True),  # the day after payable_on
    ("-10.00", datetime(2026, 5, 10, 23, 59, tzinfo=UTC), False),  # on payable_on: not after
    ("-10.00", datetime(2026, 4, 20, tzinfo=UTC), False),  # inside the holding period
    ("-0.01", datetime(2027, 1, 1, tzinfo=UTC), True),
    ("10.00", datetime(2027, 1, 1, tzinfo=UTC), False),  # money added is never clawed back
    ("0.00", datetime(2027, 1, 1, tzinfo=UTC), False),
])
def test_clawback_when_the_delta_is_negative_and_the_fact_after_payable_on(
    delta: str, fact: datetime, expected: bool
) -> None:
    assert clawback(Decimal(delta), fact, date(2026, 5, 10)) is expected


def test_the_date_of_the_fact_is_its_utc_date() -> None:
    # 2026-05-11 01:00 in UTC+02:00 is still 2026-05-10 in UTC: not after payable_on
    fact = datetime(2026, 5, 11, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert clawback(Decimal("-1.00"), fact, date(2026, 5, 10)) is False
