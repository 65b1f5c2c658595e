"""Payloads of the events dealreg publishes (docs/contract.md §3b, §6,
§7, §10 and §11).

Every output carries the ids needed to join it without lookups. Where the contract
lists no key field for an event on a topic keyed by one (``registration.extended`` and
``.extension_denied`` on ``registrations.v1``, keyed by account key), the event also
carries ``partner_id`` and ``account_key``: extra fields consumers ignore if they do not
need them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from dealreg.events.schemas.inputs import Winner
from dealreg.events.schemas.values import (
    AdjustmentReason,
    AdjustmentRejectionReason,
    ApprovalVia,
    ClaimDenialReason,
    ConflictKind,
    Days,
    Emitted,
    ExtensionDenialReason,
    Id,
    LineKind,
    Money,
    Program,
    Rate,
    RejectionReason,
    Sourced,
    Text,
    Tier,
    UtcDatetime,
    WithheldReason,
)

AccountKey = Annotated[str, Field(min_length=1, max_length=1000)]
Ids = Annotated[list[Id], Field(max_length=10_000)]


class RegistrationReceived(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    submitted_at: UtcDatetime
    program: Program
    tier: Tier


class RegistrationApproved(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    protected_from: UtcDatetime
    expires_at: UtcDatetime
    window_days: int
    policy_id: Id
    policy_version: int
    via: ApprovalVia


class RegistrationRejected(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    reason: RejectionReason
    conflicting_registration_id: Id | None
    detail: Text


class RegistrationUnderReview(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    dispute_id: Id


class RegistrationExtended(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    days: Days
    expires_at: UtcDatetime


class RegistrationExtensionDenied(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    days: Days
    reason: ExtensionDenialReason


class RegistrationExpired(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    expired_at: UtcDatetime


class RegistrationWithdrawn(Emitted):
    registration_id: Id
    partner_id: Id
    account_key: AccountKey
    withdrawn_at: UtcDatetime


class ClaimGranted(Emitted):
    registration_id: Id
    account_key: AccountKey


class ClaimDenied(Emitted):
    registration_id: Id
    account_key: AccountKey
    reason: ClaimDenialReason
    conflicting_registration_id: Id | None


class ConflictDetected(Emitted):
    account_key: AccountKey
    kind: ConflictKind
    registration_ids: Ids
    opportunity_ids: Ids
    detected_at: UtcDatetime


class DisputeOpened(Emitted):
    dispute_id: Id
    account_key: AccountKey
    kind: ConflictKind
    registration_ids: Ids
    opportunity_ids: Ids
    opened_at: UtcDatetime


class DisputeSettled(Emitted):
    dispute_id: Id
    account_key: AccountKey
    winner: Winner
    approved_registration_id: Id | None
    rejected_registration_ids: Ids
    settled_at: UtcDatetime


class PayoutLine(Emitted):
    kind: LineKind
    base: Money
    rate: Rate
    share: Rate
    amount: Money


class PayoutBasis(Emitted):
    program: Program
    tier: Tier
    policy_id: Id
    policy_version: int
    sourced: Sourced


class PayoutCalculated(Emitted):
    payout_id: Id
    deal_id: Id
    partner_id: Id
    registration_id: Id | None
    sequence: Annotated[int, Field(ge=1)]
    total: Money
    lines: list[PayoutLine]
    basis: PayoutBasis
    #: The invoice this payout is for (docs/contract.md §11); null for the deal's close.
    invoice_id: Id | None
    #: When billing may pay it (docs/contract.md §9).
    payable_on: date


class PayoutAdjusted(Emitted):
    payout_id: Id
    deal_id: Id
    partner_id: Id
    #: 1 only for a manual adjustment of a partner paid nothing before (§10).
    sequence: Annotated[int, Field(ge=1)]
    delta: Money
    new_total: Money
    reason: AdjustmentReason
    lines: list[PayoutLine]
    basis: PayoutBasis
    supersedes: Ids
    #: The manual adjustment this is (docs/contract.md §10); null unless ``reason`` is manual.
    adjustment_id: Id | None
    #: The ``payable_on`` of the deal's close (docs/contract.md §9).
    payable_on: date
    #: Money that may already have been paid is taken back (docs/contract.md §9).
    clawback: bool

    @model_validator(mode="after")
    def _adjustment_id_with_manual(self) -> PayoutAdjusted:
        if (self.reason == "manual") != (self.adjustment_id is not None):
            raise ValueError("adjustment_id is set for a manual adjustment and null otherwise")
        return self


class PayoutWithheld(Emitted):
    deal_id: Id
    account_key: AccountKey
    reason: WithheldReason


class PayoutAdjustmentRejected(Emitted):
    """A manual adjustment request that cannot apply (docs/contract.md §10)."""

    adjustment_id: Id
    deal_id: Id
    partner_id: Id
    reason: AdjustmentRejectionReason
    detail: Text


class MessageRejected(Emitted):
    """Bad input (docs/contract.md §7). ``original`` is the raw value as text when it is UTF-8,
    else base64, as ``original_encoding`` says; ``key`` likewise."""

    topic: str
    partition: int
    offset: int
    key: str | None
    error: str
    original: str | None
    original_encoding: Literal["utf-8", "base64"]
