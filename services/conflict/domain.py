"""The conflict service's aggregates: the claims on each account, and lookups by id.

``AccountClaims`` has a deterministic id (uuid5 of the account key): two instances that
decide on the same account concurrently write the same aggregate version, and the second
commit fails, so an account can never be granted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.events.schemas.values import ClaimDenialReason, ConflictKind, Program, Tier
from dealreg.identity import business_id
from dealreg.services.conflict.rules import Claim, Opportunity


@dataclass(frozen=True)
class Dispute:
    dispute_id: str
    kind: ConflictKind
    registration_ids: tuple[str, ...]
    opportunity_ids: tuple[str, ...]
    opened_at: datetime
    open: bool = True


class AccountClaims(Aggregate):
    """Every registration, direct opportunity and dispute on one account."""

    class Opened(Aggregate.Created):
        account_key: str

    class ClaimDecided(Aggregate.Event):
        """What a decided claim records of its registration, and the rule that decided."""

        account_key: str
        registration_id: str
        partner_id: str
        submitted_at: datetime
        program: Program
        tier: Tier

    class ClaimGranted(ClaimDecided):
        expires_at: datetime
        rule: int

    class ClaimDenied(ClaimDecided):
        reason: ClaimDenialReason
        conflicting_registration_id: str | None
        rule: int

    class ConflictDetected(Aggregate.Event):
        account_key: str
        kind: ConflictKind
        registration_ids: list[str]
        opportunity_ids: list[str]
        detected_at: datetime

    class DisputeOpened(Aggregate.Event):
        """Also recorded when a registration joins an open dispute (rule 4): the dispute is
        announced again with every registration it now concerns."""

        account_key: str
        dispute_id: str
        kind: ConflictKind
        registration_ids: list[str]
        opportunity_ids: list[str]
        opened_at: datetime
        newcomer: dict[str, Any] | None
        rule: int
        #: For a dispute a partner raised: the partner's registration and its case (none
        #: before they were kept).
        raised_by: str | None = None
        evidence: str | None = None

    class DisputeSettled(Aggregate.Event):
        account_key: str
        dispute_id: str
        winner: dict[str, object]
        approved_registration_id: str | None
        rejected_registration_ids: list[str]
        settled_at: datetime
        approved_expires_at: datetime | None
        #: Who decided and why (none before they were kept).
        resolved_by: str | None = None
        rationale: str | None = None

    class ProtectionChanged(Aggregate.Event):
        """The registration service approved, extended or withdrew a registration."""

        registration_id: str
        expires_at: datetime | None
        withdrawn_at: datetime | None

    class OpportunityOpened(Aggregate.Event):
        opportunity_id: str
        opened_at: datetime

    class OpportunityClosed(Aggregate.Event):
        opportunity_id: str
        closed_at: datetime

    @staticmethod
    def create_id(account_key: str) -> UUID:
        return business_id("account-claims", account_key)

    @event(Opened)
    def __init__(self, *, account_key: str) -> None:
        self.account_key = account_key
        self.claims: dict[str, Claim] = {}
        self.opportunities: dict[str, Opportunity] = {}
        self.disputes: dict[str, Dispute] = {}

    # queries

    def open_dispute(self) -> Dispute | None:
        return next((d for d in self.disputes.values() if d.open), None)

    def holder_at(self, instant: datetime) -> Claim | None:
        holders = [claim for claim in self.claims.values() if claim.protected_at(instant)]
        return min(holders, key=lambda c: c.submitted_at) if holders else None

    # commands (called by the application; each records one event)

    @event(ClaimGranted)
    def grant(self, *, account_key: str, registration_id: str, partner_id: str,
              submitted_at: datetime, program: Program, tier: Tier, expires_at: datetime,
              rule: int) -> None:
        self.claims[registration_id] = Claim(
            registration_id=registration_id, partner_id=partner_id, submitted_at=submitted_at,
            program=program, tier=tier, status="protected", expires_at=expires_at)

    @event(ClaimDenied)
    def deny(self, *, account_key: str, registration_id: str, partner_id: str,
             submitted_at: datetime, program: Program, tier: Tier,
             reason: ClaimDenialReason,
             conflicting_registration_id: str | None, rule: int) -> None:
        self.claims[registration_id] = Claim(
            registration_id=registration_id, partner_id=partner_id, submitted_at=submitted_at,
            program=program, tier=tier, status="denied",
            conflicting_registration_id=conflicting_registration_id)

    @event(ConflictDetected)
    def detect_conflict(self, *, account_key: str, kind: ConflictKind,
                        registration_ids: list[str],
                        opportunity_ids: list[str], detected_at: datetime) -> None:
        pass

    @event(DisputeOpened)
    def announce_dispute(self, *, account_key: str, dispute_id: str, kind: ConflictKind,
                         registration_ids: list[str], opportunity_ids: list[str],
                         opened_at: datetime, newcomer: dict[str, Any] | None,
                         rule: int, raised_by: str | None = None,
                         evidence: str | None = None) -> None:
        """Open a dispute, or announce who joined it. ``newcomer`` (the fields of a
        :class:`Claim`) is the new registration that waits for it, under review;
        ``evidence`` the case of the partner of ``raised_by`` when it raised the dispute.
        (Every call gives every argument: eventsourcing requires keyword-only ones; the
        defaults are for the events stored before they were kept.)"""
        self.disputes[dispute_id] = Dispute(dispute_id, kind, tuple(registration_ids),
                                            tuple(opportunity_ids), opened_at)
        if newcomer is not None:
            self.claims[newcomer["registration_id"]] = Claim(**newcomer, status="under_review")

    @event(DisputeSettled)
    def settle(self, *, account_key: str, dispute_id: str, winner: dict[str, object],
               approved_registration_id: str | None, rejected_registration_ids: list[str],
               settled_at: datetime, approved_expires_at: datetime | None,
               resolved_by: str | None = None, rationale: str | None = None) -> None:
        self.disputes[dispute_id] = replace(self.disputes[dispute_id], open=False)
        if approved_registration_id is not None:
            self.claims[approved_registration_id] = replace(
                self.claims[approved_registration_id], status="protected",
                expires_at=approved_expires_at)
        for registration_id in rejected_registration_ids:
            self.claims[registration_id] = replace(self.claims[registration_id],
                                                   status="rejected")

    @event(ProtectionChanged)
    def change_protection(self, *, registration_id: str, expires_at: datetime | None,
                          withdrawn_at: datetime | None) -> None:
        claim = self.claims[registration_id]
        self.claims[registration_id] = replace(
            claim, expires_at=expires_at or claim.expires_at,
            withdrawn_at=withdrawn_at or claim.withdrawn_at)

    @event(OpportunityOpened)
    def open_opportunity(self, *, opportunity_id: str, opened_at: datetime) -> None:
        self.opportunities[opportunity_id] = Opportunity(opportunity_id, opened_at)

    @event(OpportunityClosed)
    def close_opportunity(self, *, opportunity_id: str, closed_at: datetime) -> None:
        self.opportunities[opportunity_id] = replace(self.opportunities[opportunity_id],
                                                     closed_at=closed_at)


class AccountOf(Aggregate):
    """Which account a registration or a dispute concerns (``salesops.v1`` names only ids)."""

    class Noted(Aggregate.Created):
        kind: str
        key: str
        account_key: str

    @staticmethod
    def create_id(kind: str, key: str, **_: object) -> UUID:
        return business_id(f"account-of-{kind}", key)

    @event(Noted)
    def __init__(self, *, kind: str, key: str, account_key: str) -> None:
        self.kind = kind
        self.key = key
        self.account_key = account_key
