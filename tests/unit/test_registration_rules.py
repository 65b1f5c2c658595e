"""Rule 1 of docs/contract.md §5 (business checks, enrollment) and the extension rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dealreg.services.registration.rules import (
    Rejection,
    SubmissionFacts,
    business_check,
    enrollment_check,
    extension_denial,
)

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def facts(**changes: object) -> SubmissionFacts:
    values: dict[str, object] = {
        "submitted_at": T, "country": "DE", "estimated_value": Decimal("1000.00"),
        "currency": "EUR", "expected_close_date": date(2026, 4, 1), "account_key_error": None,
    }
    values.update(changes)
    return SubmissionFacts(**values)  # type: ignore[arg-type]


def test_rule_1_a_sound_submission_passes() -> None:
    assert business_check(facts()) is None
    assert business_check(facts(expected_close_date=T.date())) is None


@pytest.mark.parametrize(("change", "problem"), [
    ({"estimated_value": Decimal("0")}, "estimated_value.amount must be above zero"),
    ({"estimated_value": Decimal("-5")}, "estimated_value.amount must be above zero"),
    ({"currency": "XYZ"}, "estimated_value.currency 'XYZ' is not an ISO 4217 code"),
    ({"country": "ZZ"}, "prospect.country 'ZZ' is not an ISO 3166-1 code"),
    ({"expected_close_date": date(2026, 3, 9)}, "expected_close_date is before submitted_at"),
    ({"account_key_error": "prospect.domain is not a domain"}, "prospect.domain is not a domain"),
])
def test_rule_1_a_failed_business_check_is_invalid_and_names_the_field(
        change: dict[str, object], problem: str) -> None:
    assert business_check(facts(**change)) == Rejection("invalid", problem)


def test_rule_1_every_failed_check_is_reported_at_once() -> None:
    rejection = business_check(facts(estimated_value=Decimal("0"), country="ZZ"))
    assert rejection is not None
    assert rejection.detail == ("estimated_value.amount must be above zero; "
                                "prospect.country 'ZZ' is not an ISO 3166-1 code")


def test_rule_1_a_partner_never_enrolled_is_unknown() -> None:
    assert enrollment_check("p-1", None, T) == Rejection("unknown_partner",
                                                         "partner p-1 is not enrolled")


def test_rule_1_a_partner_enrolled_after_the_submission_is_unknown_at_that_time() -> None:
    assert enrollment_check("p-1", T + DAY, T) == Rejection(
        "unknown_partner",
        "partner p-1 enrolled at 2026-03-11T12:00:00+00:00, after the submission")


def test_rule_1_a_partner_enrolled_at_or_before_the_submission_passes() -> None:
    assert enrollment_check("p-1", T, T) is None
    assert enrollment_check("p-1", T - DAY, T) is None


def deny(*, protected: bool = True, days: int = 30, extended_by: int = 0) -> str | None:
    protected_from = T
    return extension_denial(protected=protected, days=days, protected_from=protected_from,
                            expires_at=protected_from + (30 + extended_by) * DAY,
                            max_extension_days=30, max_total_days=90)


def test_an_extension_within_the_limits_is_granted() -> None:
    assert deny(days=30) is None


def test_an_extension_reaching_exactly_the_maximum_total_is_granted() -> None:
    assert deny(days=30, extended_by=30) is None


def test_an_extension_of_a_registration_not_protected_is_denied() -> None:
    assert deny(protected=False) == "not_protected"
    assert extension_denial(protected=True, days=5, protected_from=None, expires_at=None,
                            max_extension_days=30, max_total_days=90) == "not_protected"


def test_an_extension_longer_than_the_policy_allows_is_too_long() -> None:
    assert deny(days=31) == "too_long"


def test_an_extension_past_the_maximum_total_window_is_denied() -> None:
    assert deny(days=1, extended_by=60) == "over_max_total"
