"""Rule 2b (docs/contract.md §8): registration capacity, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dealreg.services.registration.capacity import (
    HeldRegistration,
    capacity_check,
    open_registrations,
)
from dealreg.services.registration.rules import Rejection

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def approved(days_before: int = 5, window: int = 30, *,
             withdrawn_at: datetime | None = None) -> HeldRegistration:
    start = T - timedelta(days=days_before)
    return HeldRegistration("approved", start, start + timedelta(days=window), withdrawn_at)


def under_review(withdrawn_at: datetime | None = None) -> HeldRegistration:
    return HeldRegistration("under_review", withdrawn_at=withdrawn_at)


def test_the_example_of_the_contract() -> None:
    others = [approved() for _ in range(20)] + [under_review() for _ in range(5)]
    assert capacity_check("p-1", 25, others, T) == Rejection(
        "over_capacity", "partner p-1 holds 25 open registrations; capacity 25")


def test_below_capacity_or_without_a_limit_nothing_is_rejected() -> None:
    others = [approved() for _ in range(24)]
    assert capacity_check("p-1", 25, others, T) is None
    assert capacity_check("p-1", None, [approved() for _ in range(1000)], T) is None


def test_over_capacity_after_a_lowered_limit() -> None:
    rejection = capacity_check("p-1", 2, [approved(), approved(), under_review()], T)
    assert rejection == Rejection("over_capacity",
                                  "partner p-1 holds 3 open registrations; capacity 2")


def test_a_capacity_of_zero_rejects_every_submission() -> None:
    assert capacity_check("p-1", 0, [], T) == Rejection(
        "over_capacity", "partner p-1 holds 0 open registrations; capacity 0")


def test_one_open_registration_is_named_in_the_singular() -> None:
    assert capacity_check("p-1", 1, [approved()], T) == Rejection(
        "over_capacity", "partner p-1 holds 1 open registration; capacity 1")


@pytest.mark.parametrize(("registration", "is_open"), [
    (approved(), True),
    (approved(days_before=0), True),  # protected_from == t
    (approved(days_before=30, window=30), True),  # expires_at == t
    (approved(days_before=31, window=30), False),  # the window is past
    (approved(days_before=-1), False),  # protected later than t (an earlier submission)
    (approved(withdrawn_at=T), False),  # a withdrawal at t ends protection at t
    (approved(withdrawn_at=T - timedelta(days=1)), False),
    (approved(withdrawn_at=T + timedelta(seconds=1)), True),  # withdrawn after t
    (under_review(), True),
    (under_review(withdrawn_at=T - timedelta(hours=1)), False),
    (HeldRegistration("rejected"), False),
    (HeldRegistration("rejected", T - timedelta(days=1), T + timedelta(days=1)), False),
    (HeldRegistration("received"), False),  # not yet decided: neither under review nor approved
    (HeldRegistration("approved"), False),  # no window known
])
def test_which_registrations_are_open(registration: HeldRegistration, is_open: bool) -> None:
    assert registration.open_at(T) is is_open
    assert open_registrations([registration], T) == (1 if is_open else 0)


def test_freed_places_count_no_more() -> None:
    others = [approved(), approved(days_before=40), approved(withdrawn_at=T),
              HeldRegistration("rejected"), under_review(withdrawn_at=T)]
    assert open_registrations(others, T) == 1
    assert capacity_check("p-1", 2, others, T) is None
