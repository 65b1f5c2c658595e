"""Registration service aggregates: the partner directory and deal registrations.

Pure domain objects: no I/O, no clock. Every time is the business time of an event.
Events that are published carry everything their CloudEvent needs, so the outbox
never has to load an aggregate.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.events.schemas.values import (
    ApprovalVia,
    ExtensionDenialReason,
    Program,
    RejectionReason,
    Tier,
)
from dealreg.identity import business_id

RegistrationStatus = Literal["submitted", "received", "rejected", "approved", "under_review"]


class RegistrationEvent(Aggregate.Event):
    """What every event of a registration after its submission carries: the ids that join
    it without lookups (and that its CloudEvent needs)."""

    registration_id: str
    partner_id: str
    account_key: str


class DealRegistration(Aggregate):
    """A partner's claim on a prospect account."""

    class Submitted(Aggregate.Created):
        registration_id: str
        partner_id: str
        account_key: str
        submitted_at: datetime
        company_name: str
        domain: str | None
        country: str
        segment: str
        contact_name: str
        contact_email: str
        estimated_value: Decimal
        currency: str
        expected_close_date: date

    class SubmittedAndReceived(Submitted):
        """A submission that passed the checks of rule 1, stored as one event: the claim
        goes to the conflict service (``registration.received``)."""

        program: Program
        tier: Tier

        def apply(self, aggregate: DealRegistration) -> None:
            aggregate.status = "received"
            aggregate.program = self.program
            aggregate.tier = self.tier

    class Received(RegistrationEvent):
        """Stored after ``Submitted`` by earlier versions, before ``SubmittedAndReceived``:
        histories holding it still load, and republish the same CloudEvents."""

        submitted_at: datetime
        program: Program
        tier: Tier

    class Rejected(RegistrationEvent):
        decided_at: datetime
        reason: RejectionReason
        detail: str
        conflicting_registration_id: str | None

    class Approved(RegistrationEvent):
        protected_from: datetime
        expires_at: datetime
        window_days: int
        policy_id: str
        policy_version: int
        via: ApprovalVia
        decided_at: datetime

    class PutUnderReview(RegistrationEvent):
        dispute_id: str
        decided_at: datetime

    class Extended(RegistrationEvent):
        days: int
        expires_at: datetime
        requested_at: datetime

    class ExtensionDenied(RegistrationEvent):
        days: int
        reason: ExtensionDenialReason
        requested_at: datetime

    class Withdrawn(RegistrationEvent):
        withdrawn_at: datetime

    class Expired(RegistrationEvent):
        expired_at: datetime

    @staticmethod
    def create_id(registration_id: str, **_: object) -> UUID:
        return business_id("registration", registration_id)

    @event(Submitted)
    def __init__(
        self,
        *,
        registration_id: str,
        partner_id: str,
        account_key: str,
        submitted_at: datetime,
        company_name: str,
        domain: str | None,
        country: str,
        segment: str,
        contact_name: str,
        contact_email: str,
        estimated_value: Decimal,
        currency: str,
        expected_close_date: date,
    ) -> None:
        self.registration_id = registration_id
        self.partner_id = partner_id
        self.account_key = account_key
        self.submitted_at = submitted_at
        self.company_name = company_name
        self.domain = domain
        self.country = country
        self.segment = segment
        self.contact_name = contact_name
        self.contact_email = contact_email
        self.estimated_value = estimated_value
        self.currency = currency
        self.expected_close_date = expected_close_date
        self.status: RegistrationStatus = "submitted"
        self.program: Program | None = None
        self.tier: Tier | None = None
        self.rejection: tuple[RejectionReason, str] | None = None
        self.conflicting_registration_id: str | None = None
        self.protected_from: datetime | None = None
        self.expires_at: datetime | None = None
        self.withdrawn_at: datetime | None = None
        self.dispute_id: str | None = None
        self.expired_at: datetime | None = None
        self.decided_at: datetime | None = None

    @classmethod
    def received(cls, *, program: Program, tier: Tier, **submission: Any) -> DealRegistration:
        """A submission that passed the checks of rule 1, with the program and tier it was
        received under: one stored event, where a rejected submission stores two."""
        return cls._create(cls.SubmittedAndReceived, program=program, tier=tier, **submission)

    @event(Received)
    def _received(
        self,
        *,
        registration_id: str,
        partner_id: str,
        account_key: str,
        submitted_at: datetime,
        program: Program,
        tier: Tier,
    ) -> None:
        self.status = "received"
        self.program = program
        self.tier = tier

    def reject(
        self, *, reason: RejectionReason, detail: str, decided_at: datetime,
        conflicting_registration_id: str | None = None,
    ) -> None:
        self._rejected(**self._ids, decided_at=decided_at, reason=reason,
                       detail=detail, conflicting_registration_id=conflicting_registration_id)

    @event(Rejected)
    def _rejected(
        self,
        *,
        registration_id: str,
        partner_id: str,
        account_key: str,
        decided_at: datetime,
        reason: RejectionReason,
        detail: str,
        conflicting_registration_id: str | None,
    ) -> None:
        self.status = "rejected"
        self.rejection = (reason, detail)
        self.conflicting_registration_id = conflicting_registration_id
        self.decided_at = decided_at

    @property
    def _ids(self) -> dict[str, str]:
        return {"registration_id": self.registration_id, "partner_id": self.partner_id,
                "account_key": self.account_key}

    def is_protected_at(self, instant: datetime) -> bool:
        """Approved, not withdrawn, and ``protected_from <= instant <= expires_at``."""
        if self.status != "approved" or self.protected_from is None or self.expires_at is None:
            return False
        if self.withdrawn_at is not None and instant >= self.withdrawn_at:
            return False
        return self.protected_from <= instant <= self.expires_at

    def approve(self, *, expires_at: datetime, window_days: int, policy_id: str,
                policy_version: int, via: ApprovalVia, decided_at: datetime) -> None:
        """Protection from ``submitted_at`` (both on a plain approval and after a dispute)."""
        self._approved(**self._ids, protected_from=self.submitted_at, expires_at=expires_at,
                       window_days=window_days, policy_id=policy_id,
                       policy_version=policy_version, via=via, decided_at=decided_at)

    @event(Approved)
    def _approved(self, *, registration_id: str, partner_id: str, account_key: str,
                  protected_from: datetime, expires_at: datetime, window_days: int,
                  policy_id: str, policy_version: int, via: ApprovalVia,
                  decided_at: datetime) -> None:
        self.status = "approved"
        self.rejection = None  # a dispute won after an earlier one was lost
        self.conflicting_registration_id = None
        self.decided_at = decided_at
        self.protected_from = protected_from
        self.expires_at = expires_at
        self.expired_at = None

    def put_under_review(self, *, dispute_id: str, decided_at: datetime) -> None:
        self._under_review(**self._ids, dispute_id=dispute_id, decided_at=decided_at)

    @event(PutUnderReview)
    def _under_review(self, *, registration_id: str, partner_id: str, account_key: str,
                      dispute_id: str, decided_at: datetime) -> None:
        self.status = "under_review"
        self.dispute_id = dispute_id

    def extend(self, *, days: int, expires_at: datetime, requested_at: datetime) -> None:
        self._extended(**self._ids, days=days, expires_at=expires_at, requested_at=requested_at)

    @event(Extended)
    def _extended(self, *, registration_id: str, partner_id: str, account_key: str, days: int,
                  expires_at: datetime, requested_at: datetime) -> None:
        self.expires_at = expires_at
        self.expired_at = None

    def deny_extension(self, *, days: int, reason: ExtensionDenialReason,
                       requested_at: datetime) -> None:
        self._extension_denied(**self._ids, days=days, reason=reason, requested_at=requested_at)

    @event(ExtensionDenied)
    def _extension_denied(self, *, registration_id: str, partner_id: str, account_key: str,
                          days: int, reason: ExtensionDenialReason,
                          requested_at: datetime) -> None:
        pass

    def withdraw(self, *, withdrawn_at: datetime) -> None:
        self._withdrawn(**self._ids, withdrawn_at=withdrawn_at)

    @event(Withdrawn)
    def _withdrawn(self, *, registration_id: str, partner_id: str, account_key: str,
                   withdrawn_at: datetime) -> None:
        self.withdrawn_at = withdrawn_at

    def expire(self) -> None:
        assert self.expires_at is not None
        self._expired(**self._ids, expired_at=self.expires_at)

    @event(Expired)
    def _expired(self, *, registration_id: str, partner_id: str, account_key: str,
                 expired_at: datetime) -> None:
        self.expired_at = expired_at


class PartnerRegistrations(Aggregate):
    """Every registration of one partner that passed rule 1, on any account: what rule 2b
    (registration capacity, §8) counts."""

    class Opened(Aggregate.Created):
        partner_id: str

    class Registered(Aggregate.Event):
        registration_id: str

    @staticmethod
    def create_id(partner_id: str, **_: object) -> UUID:
        return business_id("partner-registrations", partner_id)

    @event(Opened)
    def __init__(self, *, partner_id: str) -> None:
        self.partner_id = partner_id
        self.registration_ids: list[str] = []

    @event(Registered)
    def register(self, *, registration_id: str) -> None:
        self.registration_ids.append(registration_id)
