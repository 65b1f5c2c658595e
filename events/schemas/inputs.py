"""Payloads of the events dealreg consumes (docs/contract.md §3, §10
and §11)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from dealreg.events.schemas.iso_codes import is_known_currency
from dealreg.events.schemas.values import (
    CountryCode,
    Days,
    Email,
    Frozen,
    Id,
    Money,
    Name,
    Program,
    Rate,
    Segment,
    Text,
    Tier,
    UtcDatetime,
)


class PartnerEnrolled(Frozen):
    partner_id: Id
    name: Name
    program: Program
    tier: Tier
    enrolled_at: UtcDatetime


class PartnerTierChanged(Frozen):
    partner_id: Id
    tier: Tier
    effective_at: UtcDatetime


class CoSellSplit(Frozen):
    partner_sourced: Rate | None = None
    direct_sourced: Rate | None = None


class TierBonus(Frozen):
    """A partner whose tier at ``qualify_by`` is at least ``tier`` earns ``rate`` more on
    deals closed in [``closed_from``, ``closed_to``]."""

    tier: Tier
    qualify_by: UtcDatetime
    closed_from: UtcDatetime
    closed_to: UtcDatetime
    rate: Rate

    @model_validator(mode="after")
    def _ordered(self) -> TierBonus:
        if self.qualify_by > self.closed_from:
            raise ValueError("qualify_by must not be after closed_from")
        if self.closed_from > self.closed_to:
            raise ValueError("closed_from must not be after closed_to")
        return self


WindowDays = Annotated[int, Field(ge=1, le=3650)]
#: Open registrations a partner may hold (docs/contract.md §8); null in a body: no limit.
Capacity = Annotated[int, Field(ge=0, le=1_000_000)]
#: Days billing waits before paying (docs/contract.md §9).
HoldingDays = Annotated[int, Field(ge=0, le=3650)]
#: Calendar months a deal's invoices earn revenue share (docs/contract.md §11): 100 years
#: at most.
RevenueShareMonths = Annotated[int, Field(ge=0, le=1200)]


class PolicyPublished(Frozen):
    """A program policy; every part of the body left out keeps the value in force before."""

    policy_id: Id
    version: Annotated[int, Field(ge=0, le=1_000_000)]
    effective_from: UtcDatetime
    retroactive: bool
    registration_window_days: dict[Program, dict[Tier, WindowDays]] | None = None
    commission_rates: dict[Program, dict[Tier, Rate]] | None = None
    max_total_days: WindowDays | None = None
    max_extension_days: WindowDays | None = None
    co_sell_split: CoSellSplit | None = None
    tier_bonuses: Annotated[list[TierBonus], Field(max_length=100)] | None = None
    registration_capacity: dict[Program, dict[Tier, Capacity | None]] | None = None
    holding_days: HoldingDays | None = None
    revenue_share_rates: dict[Program, dict[Tier, Rate]] | None = None
    revenue_share_months: RevenueShareMonths | None = None


class Prospect(Frozen):
    company_name: Name
    domain: Annotated[str, Field(max_length=500)] | None = None
    country: CountryCode
    segment: Segment


class Contact(Frozen):
    """Personal data: never logged."""

    name: Name
    email: Email


class RegistrationSubmitted(Frozen):
    registration_id: Id
    partner_id: Id
    submitted_at: UtcDatetime
    prospect: Prospect
    contact: Contact
    estimated_value: Money
    expected_close_date: date


class RegistrationExtensionRequested(Frozen):
    registration_id: Id
    partner_id: Id
    days: Days
    requested_at: UtcDatetime


class RegistrationWithdrawalRequested(Frozen):
    """``registration.withdrawn`` as the partner portal sends it."""

    registration_id: Id
    partner_id: Id
    withdrawn_at: UtcDatetime


class Account(Frozen):
    company_name: Name
    domain: Annotated[str, Field(max_length=500)] | None = None
    country: CountryCode


class OpportunityOpened(Frozen):
    opportunity_id: Id
    account: Account
    owner: Id
    opened_at: UtcDatetime


class DealClosed(Frozen):
    deal_id: Id
    account: Account
    outcome: Literal["won", "lost"]
    closed_at: UtcDatetime
    first_year_value: Money
    registration_id: Id | None = None
    co_sell: bool = False
    co_sell_partner_id: Id | None = None
    opportunity_id: Id | None = None

    @field_validator("first_year_value")
    @classmethod
    def _not_negative(cls, value: Money) -> Money:
        if value.amount < 0:
            raise ValueError("a deal's first-year value cannot be negative")
        if not is_known_currency(value.currency):  # a registration's is rule 1's to reject
            raise ValueError(f"unknown ISO 4217 currency code {value.currency!r}")
        return value


class DealRefunded(Frozen):
    deal_id: Id
    refunded_at: UtcDatetime


class SubscriptionInvoiced(Frozen):
    """One invoice of a deal's recurring revenue (docs/contract.md §11)."""

    invoice_id: Id
    deal_id: Id
    period_start: date
    period_end: date
    recurring_revenue: Money
    invoiced_at: UtcDatetime

    @field_validator("period_end")
    @classmethod
    def _not_before_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if isinstance(start, date) and value < start:
            raise ValueError(f"must not be before period_start ({start.isoformat()})")
        return value

    @field_validator("recurring_revenue")
    @classmethod
    def _not_negative(cls, value: Money) -> Money:
        if value.amount < 0:
            raise ValueError("recurring revenue cannot be negative")
        return value


class PayoutAdjustmentRequested(Frozen):
    """A payout corrected by hand by sales ops or finance (docs/contract.md §10)."""

    adjustment_id: Id
    deal_id: Id
    partner_id: Id
    amount: Money
    reason: Text
    requested_by: Id
    requested_at: UtcDatetime

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, value: Money) -> Money:
        if value.amount == 0:
            raise ValueError("an adjustment's amount must not be zero")
        return value

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class DisputeRaised(Frozen):
    dispute_id: Id
    registration_id: Id
    raised_at: UtcDatetime
    evidence: Text


class RegistrationWinner(Frozen):
    """Exactly ``{"registration_id": …}``: a winner naming both is ambiguous, so bad input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registration_id: Id


class DirectWinner(Frozen):
    """Exactly ``{"direct": true}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direct: Literal[True]

    @field_validator("direct", mode="before")
    @classmethod
    def _true_itself(cls, value: object) -> object:
        if value is not True:
            raise ValueError("must be true")
        return value


Winner = RegistrationWinner | DirectWinner


class DisputeResolved(Frozen):
    dispute_id: Id
    winner: Winner
    resolved_at: UtcDatetime
    resolved_by: Id
    rationale: Text
