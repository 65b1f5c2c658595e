"""Value types shared by the event schemas (docs/contract.md §1, common value rules).

* Money amounts and rates are decimal *strings* on the wire, never JSON numbers, and
  ``Decimal`` in Python.
* Timestamps are RFC 3339 with an offset; they are normalised to UTC and emitted with
  ``Z``.
* Absurd values are schema violations (bad input): amounts of 10^15 or more or with more
  than 6 decimal places, rates outside [0, 1], strings beyond the bounds below.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

Program = Literal["referral", "reseller", "msp"]
Tier = Literal["bronze", "silver", "gold", "platinum"]
Segment = Literal["smb", "mid", "enterprise"]

#: Tiers from lowest to highest, for "at least this tier" comparisons.
TIER_ORDER: tuple[Tier, ...] = ("bronze", "silver", "gold", "platinum")

#: An identifier (registration_id, partner_id, deal_id, …).
Id = Annotated[str, Field(min_length=1, max_length=200)]
#: A name of a company or a person.
Name = Annotated[str, Field(min_length=1, max_length=500)]
#: Free text (evidence, rationale, detail).
Text = Annotated[str, Field(max_length=20_000)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Days = Annotated[int, Field(ge=1, le=3650)]

DECIMAL_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"
_DECIMAL = re.compile(DECIMAL_PATTERN)


def _decimal_string(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"must be a decimal string such as \"12.50\", not {type(value).__name__}")
    if not _DECIMAL.match(value):
        raise ValueError(
            "must be a decimal string with at most 15 integer digits and 6 decimals"
        )
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError("is not a decimal number") from None


def _plain(value: Decimal) -> str:
    return format(value, "f")


DecimalString = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    PlainSerializer(_plain, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]


def _unit_interval(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError("must be between 0 and 1")
    return value


Rate = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    AfterValidator(_unit_interval),
    PlainSerializer(_plain, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$"}),
]


def format_utc(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; fractional seconds only when there are any."""
    text = value.isoformat()
    if text.endswith("+00:00"):  # already UTC, as stored times are: a third of the cost
        return f"{text[:-6]}Z"
    return f"{value.astimezone(UTC).replace(tzinfo=None).isoformat()}Z"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|z|[+-][0-9]{2}:[0-9]{2})$")


def _rfc3339(value: Any) -> Any:
    """Only RFC 3339 text: no epoch numbers (pydantic would read ``"1700000000"`` as one)."""
    if not isinstance(value, str):
        return value
    if not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. "
                         "2026-03-01T10:00:00Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not a valid date and time: {value!r}") from None


UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "pattern": "(Z|z|[+-][0-9]{2}:[0-9]{2})$"}),
]


class Frozen(BaseModel):
    """Base of input payloads: immutable; unknown extra fields are ignored (docs/contract.md §1)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Emitted(BaseModel):
    """Base of output payloads: immutable; exactly the documented fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Money(Frozen):
    """``{"amount": "1234.50", "currency": "EUR"}``: amount a decimal string, ISO 4217 code."""

    amount: DecimalString
    currency: CurrencyCode


# The contract's closed vocabularies, named once for the schemas and the services.
#: How a registration came to be approved.
ApprovalVia = Literal["auto", "dispute"]
#: Why a registration was rejected (docs/contract.md §3b).
RejectionReason = Literal[
    "invalid", "unknown_partner", "duplicate", "over_capacity", "conflict", "dispute_lost"
]
#: Why an extension was denied.
ExtensionDenialReason = Literal["not_protected", "too_long", "over_max_total"]
#: Why the conflict service denied a claim.
ClaimDenialReason = Literal["duplicate", "conflict"]
#: The kinds of conflict and dispute.
ConflictKind = Literal[
    "late_earlier_submission", "partner_vs_direct", "partner_vs_partner", "partner_protected"
]
#: The kinds of payout line.
LineKind = Literal["commission", "tier_bonus", "revenue_share", "manual"]
#: Who sourced a won deal.
Sourced = Literal["partner", "direct"]
#: Why a payout was adjusted.
AdjustmentReason = Literal[
    "dispute_settled", "policy_retroactive", "late_fact", "refund", "manual"
]
#: Why a manual adjustment request was refused (docs/contract.md §10).
AdjustmentRejectionReason = Literal[
    "unknown_deal", "deal_not_won", "unknown_partner", "currency_mismatch"
]
#: Why no payout was made for a won deal.
WithheldReason = Literal["no_registration", "registration_not_protected", "dispute_open"]
