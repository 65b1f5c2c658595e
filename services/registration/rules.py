"""Rule 1 of docs/contract.md §5: checks a submission must pass before its claim is considered.

Pure functions of the facts: the same submission and partner history always give the
same decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dealreg.events.schemas.iso_codes import is_known_country, is_known_currency
from dealreg.events.schemas.values import ExtensionDenialReason, RejectionReason


@dataclass(frozen=True)
class Rejection:
    reason: RejectionReason
    detail: str


@dataclass(frozen=True)
class SubmissionFacts:
    submitted_at: datetime
    country: str
    estimated_value: Decimal
    currency: str
    expected_close_date: date
    account_key_error: str | None


def business_check(facts: SubmissionFacts) -> Rejection | None:
    """``invalid`` when data that passed the schema fails a business check."""
    problems = []
    if facts.estimated_value <= 0:
        problems.append("estimated_value.amount must be above zero")
    if not is_known_currency(facts.currency):
        problems.append(f"estimated_value.currency {facts.currency!r} is not an ISO 4217 code")
    if not is_known_country(facts.country):
        problems.append(f"prospect.country {facts.country!r} is not an ISO 3166-1 code")
    if facts.expected_close_date < facts.submitted_at.date():
        problems.append("expected_close_date is before submitted_at")
    if facts.account_key_error:
        problems.append(facts.account_key_error)
    return Rejection("invalid", "; ".join(problems)) if problems else None


def enrollment_check(
    partner_id: str, enrolled_at: datetime | None, at: datetime
) -> Rejection | None:
    """``unknown_partner`` when the partner is not enrolled at the submission time."""
    if enrolled_at is None:
        return Rejection("unknown_partner", f"partner {partner_id} is not enrolled")
    if enrolled_at > at:
        return Rejection(
            "unknown_partner",
            f"partner {partner_id} enrolled at {enrolled_at.isoformat()}, after the submission",
        )
    return None


def extension_denial(
    *,
    protected: bool,
    days: int,
    protected_from: datetime | None,
    expires_at: datetime | None,
    max_extension_days: int,
    max_total_days: int,
) -> ExtensionDenialReason | None:
    """Why an extension of ``days`` is denied under the policy in force, or None (§5)."""
    if not protected or protected_from is None or expires_at is None:
        return "not_protected"
    if days > max_extension_days:
        return "too_long"
    if expires_at + timedelta(days=days) - protected_from > timedelta(days=max_total_days):
        return "over_max_total"
    return None
