"""The conflict service's use cases: claims decided one account at a time by rules 2 to 6 of
docs/contract.md §5, direct opportunities, and disputes raised and resolved by sales ops."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from dealreg.events.schemas import BadInput
from dealreg.events.schemas.inputs import (
    Account,
    DealClosed,
    DisputeRaised,
    DisputeResolved,
    OpportunityOpened,
    PolicyPublished,
    RegistrationWinner,
)
from dealreg.events.schemas.outputs import (
    RegistrationApproved,
    RegistrationExtended,
    RegistrationReceived,
    RegistrationWithdrawn,
)
from dealreg.events.schemas.values import ConflictKind
from dealreg.identity import business_id
from dealreg.processing import Inbound, UnitOfWork
from dealreg.services.account_key import account_key
from dealreg.services.conflict.domain import AccountClaims, AccountOf
from dealreg.services.conflict.rules import decide, late_direct_claims
from dealreg.services.program_policy import policy_book, publish_policy

log = logging.getLogger(__name__)

#: The registration service's word on a window: approved, extended or withdrawn.
Protection = RegistrationApproved | RegistrationExtended | RegistrationWithdrawn
def account(unit: UnitOfWork, key: str) -> AccountClaims:
    return unit.get_or_add(AccountClaims, AccountClaims.create_id(key),
                           lambda: AccountClaims(account_key=key))


def note_account_of(unit: UnitOfWork, kind: str, key: str, account_key: str) -> None:
    if unit.get(AccountOf, AccountOf.create_id(kind, key)) is None:
        unit.add(AccountOf(kind=kind, key=key, account_key=account_key))


def account_of(unit: UnitOfWork, kind: str, key: str, unknown: str) -> AccountClaims:
    """The account of a dispute, or of a denied registration (only those are indexed:
    only a denial can be disputed); bad input saying ``unknown`` once the order grace for
    it to arrive on another topic is over."""
    index = unit.get(AccountOf, AccountOf.create_id(kind, key))
    if index is None:  # it may still be on its way on another topic
        unit.defer_unless_overdue(f"{kind} {key} is not known (yet)")
        raise BadInput(unknown)
    return account(unit, index.account_key)


def crm_account_key(crm_account: Account) -> str:
    """The account key of a CRM account, or bad input naming the field."""
    try:
        return account_key(company_name=crm_account.company_name, country=crm_account.country,
                           domain=crm_account.domain)
    except ValueError as error:
        raise BadInput(f"data.account.{error}") from None


def dispute_id_for(key: str, kind: str, registration_id: str) -> str:
    """Deterministic: the same account, kind and first registration give the same id."""
    return str(business_id("dispute", f"{key}|{kind}|{registration_id}"))


def window_end(unit: UnitOfWork, submitted_at: datetime, program: str, tier: str) -> datetime:
    """``expires_at`` of a plain approval, as the registration service computes it (§5)."""
    return policy_book(unit).in_force(submitted_at).window_end(submitted_at, program, tier)


def claim(unit: UnitOfWork, cmd: RegistrationReceived) -> None:
    """Decide a received registration by rules 2 to 6."""
    registration_id, key, submitted_at = cmd.registration_id, cmd.account_key, cmd.submitted_at
    claims = account(unit, key)
    if registration_id in claims.claims:
        return  # already decided: a re-published registration.received
    dispute = claims.open_dispute()
    decision = decide(
        registration_id=registration_id, partner_id=cmd.partner_id, submitted_at=submitted_at,
        claims=claims.claims.values(), opportunities=claims.opportunities.values(),
        open_dispute_id=dispute.dispute_id if dispute else None,
    )
    newcomer: dict[str, Any] = {"registration_id": registration_id,
                                "partner_id": cmd.partner_id, "submitted_at": submitted_at,
                                "program": cmd.program, "tier": cmd.tier}
    log.info("claim decided", extra={"registration_id": registration_id, "account_key": key,
                                     "rule": decision.rule, "outcome": decision.outcome})
    if decision.outcome == "granted":
        expires_at = window_end(unit, submitted_at, cmd.program, cmd.tier)
        claims.grant(account_key=key, **newcomer, expires_at=expires_at, rule=decision.rule)
    elif decision.outcome == "denied":
        assert decision.reason is not None
        note_account_of(unit, "registration", registration_id, key)  # for dispute.raised
        claims.deny(account_key=key, **newcomer, reason=decision.reason,
                    conflicting_registration_id=decision.conflicting_registration_id,
                    rule=decision.rule)
    elif decision.outcome == "join":
        assert dispute is not None
        claims.announce_dispute(
            account_key=key, dispute_id=dispute.dispute_id, kind=dispute.kind,
            registration_ids=[*dispute.registration_ids, registration_id],
            opportunity_ids=list(dispute.opportunity_ids), opened_at=dispute.opened_at,
            newcomer=newcomer, rule=decision.rule, raised_by=None, evidence=None)
    else:
        assert decision.kind is not None
        registration_ids = [registration_id]
        if decision.conflicting_registration_id is not None:
            registration_ids.append(decision.conflicting_registration_id)
        opportunity_ids = list(decision.opportunity_ids)
        claims.detect_conflict(account_key=key, kind=decision.kind,
                               registration_ids=registration_ids,
                               opportunity_ids=opportunity_ids, detected_at=submitted_at)
        _open(unit, claims, dispute_id_for(key, decision.kind, registration_id),
              decision.kind, registration_ids, opportunity_ids, submitted_at,
              newcomer=newcomer, rule=decision.rule)


def _open(unit: UnitOfWork, claims: AccountClaims, dispute_id: str, kind: ConflictKind,
          registration_ids: list[str], opportunity_ids: list[str], opened_at: datetime, *,
          newcomer: dict[str, Any] | None, rule: int, raised_by: str | None = None,
          evidence: str | None = None) -> None:
    note_account_of(unit, "dispute", dispute_id, claims.account_key)
    claims.announce_dispute(
        account_key=claims.account_key, dispute_id=dispute_id, kind=kind,
        registration_ids=registration_ids, opportunity_ids=opportunity_ids,
        opened_at=opened_at, newcomer=newcomer, rule=rule, raised_by=raised_by,
        evidence=evidence)


def update_protection(unit: UnitOfWork, cmd: Protection) -> None:
    """The registration service's word on a window: approved, extended or withdrawn. A word
    already taken (a republished event) changes nothing and records nothing."""
    registration_id = cmd.registration_id
    expires_at = None if isinstance(cmd, RegistrationWithdrawn) else cmd.expires_at
    withdrawn_at = cmd.withdrawn_at if isinstance(cmd, RegistrationWithdrawn) else None
    claims = account(unit, cmd.account_key)
    claim = claims.claims.get(registration_id)
    if claim is None or ((expires_at or claim.expires_at) == claim.expires_at
                         and (withdrawn_at or claim.withdrawn_at) == claim.withdrawn_at):
        return
    claims.change_protection(registration_id=registration_id, expires_at=expires_at,
                             withdrawn_at=withdrawn_at)


def open_opportunity(unit: UnitOfWork, cmd: OpportunityOpened) -> None:
    """A direct opportunity: rule 5 applied late to the registrations it predates, else a
    ``partner_protected`` conflict with the registration protected when it was opened."""
    opportunity_id, opened_at = cmd.opportunity_id, cmd.opened_at
    key = crm_account_key(cmd.account)
    claims = account(unit, key)
    if opportunity_id in claims.opportunities:
        return
    claims.open_opportunity(opportunity_id=opportunity_id, opened_at=opened_at)
    late = late_direct_claims(claims.claims.values(), claims.opportunities[opportunity_id])
    if late:
        _dispute_late(unit, claims, [claim.registration_id for claim in late], opportunity_id,
                      late[0].submitted_at)
        return
    holder = claims.holder_at(opened_at)
    if holder is not None:
        claims.detect_conflict(account_key=key, kind="partner_protected",
                               registration_ids=[holder.registration_id],
                               opportunity_ids=[opportunity_id], detected_at=opened_at)


def _dispute_late(unit: UnitOfWork, claims: AccountClaims, registration_ids: list[str],
                  opportunity_id: str, submitted_at: datetime) -> None:
    """The dispute rule 5 would have opened at the first registration's submission (the
    same id and times as had the opportunity been read first), or the open dispute on the
    account, joined by the opportunity and the registrations. They stay protected."""
    dispute = claims.open_dispute()
    if dispute is not None:
        claims.announce_dispute(
            account_key=claims.account_key, dispute_id=dispute.dispute_id, kind=dispute.kind,
            registration_ids=[*dispute.registration_ids,
                              *(r for r in registration_ids if r not in dispute.registration_ids)],
            opportunity_ids=[*dispute.opportunity_ids, opportunity_id],
            opened_at=dispute.opened_at, newcomer=None, rule=5, raised_by=None, evidence=None)
        return
    claims.detect_conflict(account_key=claims.account_key, kind="partner_vs_direct",
                           registration_ids=registration_ids, opportunity_ids=[opportunity_id],
                           detected_at=submitted_at)
    _open(unit, claims, dispute_id_for(claims.account_key, "partner_vs_direct",
                                       registration_ids[0]),
          "partner_vs_direct", registration_ids, [opportunity_id], submitted_at,
          newcomer=None, rule=5)
    log.info("late direct opportunity disputed", extra={
        "account_key": claims.account_key, "opportunity_id": opportunity_id,
        "registration_ids": registration_ids})


def close_opportunities(unit: UnitOfWork, cmd: DealClosed) -> None:
    """A closed deal closes the opportunity it names, or those open on its account."""
    opportunity_id, closed_at = cmd.opportunity_id, cmd.closed_at
    claims = account(unit, crm_account_key(cmd.account))
    for opportunity in list(claims.opportunities.values()):
        named = opportunity_id is None or opportunity.opportunity_id == opportunity_id
        if named and opportunity.closed_at is None:
            claims.close_opportunity(opportunity_id=opportunity.opportunity_id,
                                     closed_at=closed_at)


def raise_dispute(unit: UnitOfWork, cmd: DisputeRaised) -> None:
    """A partner denied for a conflict disputes the holder's claim (partner_vs_partner)."""
    dispute_id, registration_id, raised_at = cmd.dispute_id, cmd.registration_id, cmd.raised_at
    claims = account_of(unit, "registration", registration_id,
                        f"data.registration_id: no registration {registration_id!r} denied "
                        "for a conflict (only such a denial can be disputed)")
    if dispute_id in claims.disputes:
        return
    denied = claims.claims[registration_id]
    if denied.status != "denied" or denied.conflicting_registration_id is None:
        raise BadInput(f"data.registration_id: registration {registration_id!r} was not "
                       "denied for a conflict")
    registration_ids = [registration_id, denied.conflicting_registration_id]
    claims.detect_conflict(account_key=claims.account_key, kind="partner_vs_partner",
                           registration_ids=registration_ids, opportunity_ids=[],
                           detected_at=raised_at)
    _open(unit, claims, dispute_id, "partner_vs_partner", registration_ids, [], raised_at,
          newcomer=None, rule=0, raised_by=registration_id, evidence=cmd.evidence)


def resolve_dispute(unit: UnitOfWork, cmd: DisputeResolved) -> None:
    """Settle: the winner is protected from its own submission, every other loses."""
    dispute_id, resolved_at = cmd.dispute_id, cmd.resolved_at
    winner_registration_id = (cmd.winner.registration_id
                              if isinstance(cmd.winner, RegistrationWinner) else None)
    claims = account_of(unit, "dispute", dispute_id,
                        f"data.dispute_id: unknown dispute {dispute_id!r}")
    dispute = claims.disputes[dispute_id]
    if not dispute.open:
        return
    if winner_registration_id is not None and (
        winner_registration_id not in dispute.registration_ids
    ):
        raise BadInput(f"data.winner.registration_id: {winner_registration_id!r} is not "
                       f"part of dispute {dispute_id!r}")
    approved_expires_at = None
    if winner_registration_id is not None:
        winner = claims.claims[winner_registration_id]
        approved_expires_at = window_end(unit, winner.submitted_at, winner.program, winner.tier)
    claims.settle(
        account_key=claims.account_key, dispute_id=dispute_id,
        winner=({"registration_id": winner_registration_id} if winner_registration_id
                else {"direct": True}),
        approved_registration_id=winner_registration_id,
        rejected_registration_ids=[r for r in dispute.registration_ids
                                   if r != winner_registration_id],
        settled_at=resolved_at, approved_expires_at=approved_expires_at,
        resolved_by=cmd.resolved_by, rationale=cmd.rationale)


def _account_reads(cmd: RegistrationReceived | RegistrationApproved) -> Iterable[UUID]:
    return (AccountClaims.create_id(cmd.account_key),)


INBOUND = (
    Inbound()
    .on(PolicyPublished, publish_policy)
    .on(RegistrationReceived, claim, reads=_account_reads)
    .on(RegistrationApproved, update_protection, reads=_account_reads)
    .on(RegistrationExtended, update_protection)
    .on(RegistrationWithdrawn, update_protection)
    .on(OpportunityOpened, open_opportunity)
    .on(DealClosed, close_opportunities)
    .on(DisputeRaised, raise_dispute)
    .on(DisputeResolved, resolve_dispute)
)
