"""Registration service aggregates: the partner directory and deal registrations.

Pure domain objects: no I/O, no clock. Every time is the business time of an event.
Events that are published carry everything their CloudEvent needs, so the outbox
never has to load an aggregate.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.identity import business_id


class Partner(Aggregate):
    """A partner as the registration service knows it: program, and tier over time."""

    class Enrolled(Aggregate.Created):
        partner_id: str
        name: str
        program: str
        tier: str
        enrolled_at: datetime

    class TierChanged(Aggregate.Event):
        tier: str
        effective_at: datetime

    @staticmethod
    def create_id(partner_id: str, **_: object) -> UUID:
        return business_id("partner", partner_id)

    @event(Enrolled)
    def __init__(
        self, *, partner_id: str, name: str, program: str, tier: str, enrolled_at: datetime
    ) -> None:
        self.partner_id = partner_id
        self.name = name
        self.program = program
        self.enrolled_at = enrolled_at
        self.tiers: list[tuple[datetime, str]] = [(enrolled_at, tier)]

    @event(TierChanged)
    def change_tier(self, *, tier: str, effective_at: datetime) -> None:
        self.tiers.append((effective_at, tier))
        self.tiers.sort(key=lambda change: change[0])

    def tier_at(self, instant: datetime) -> str | None:
        """The tier in force at ``instant`` (the latest change effective at or before it)."""
        current = None
        for effective_at, tier in self.tiers:
            if effective_at > instant:
                break
            current = tier
        return current


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

    class Received(Aggregate.Event):
        registration_id: str
        partner_id: str
        account_key: str
        submitted_at: datetime
        program: str
        tier: str

    class Rejected(Aggregate.Event):
        registration_id: str
        partner_id: str
        account_key: str
        submitted_at: datetime
        reason: str
        detail: str
        conflicting_registration_id: str | None

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
        self.status = "submitted"
        self.program: str | None = None
        self.tier: str | None = None
        self.rejection: tuple[str, str] | None = None
        self.conflicting_registration_id: str | None = None

    def receive(self, *, program: str, tier: str) -> None:
        """The submission passed the checks of rule 1; the claim goes to the conflict service."""
        self._received(
            registration_id=self.registration_id,
            partner_id=self.partner_id,
            account_key=self.account_key,
            submitted_at=self.submitted_at,
            program=program,
            tier=tier,
        )

    @event(Received)
    def _received(
        self,
        *,
        registration_id: str,
        partner_id: str,
        account_key: str,
        submitted_at: datetime,
        program: str,
        tier: str,
    ) -> None:
        self.status = "received"
        self.program = program
        self.tier = tier

    def reject(
        self, *, reason: str, detail: str, conflicting_registration_id: str | None = None
    ) -> None:
        self._rejected(
            registration_id=self.registration_id,
            partner_id=self.partner_id,
            account_key=self.account_key,
            submitted_at=self.submitted_at,
            reason=reason,
            detail=detail,
            conflicting_registration_id=conflicting_registration_id,
        )

    @event(Rejected)
    def _rejected(
        self,
        *,
        registration_id: str,
        partner_id: str,
        account_key: str,
        submitted_at: datetime,
        reason: str,
        detail: str,
        conflicting_registration_id: str | None,
    ) -> None:
        self.status = "rejected"
        self.rejection = (reason, detail)
        self.conflicting_registration_id = conflicting_registration_id
