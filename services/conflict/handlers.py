"""Thin translations from the conflict service's input events to its commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from dealreg.processing import Handler, Reads, UnitOfWork
from events.schemas import ParsedEvent
from events.schemas import outputs as out
from events.schemas.inputs import (
    DealClosed,
    DisputeRaised,
    DisputeResolved,
    OpportunityOpened,
    RegistrationWinner,
)
from services.conflict import app
from services.conflict.domain import AccountClaims, AccountOf
from services.program_policy import publish_policy


def on_received(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationReceived)
    app.claim(unit, registration_id=data.registration_id, partner_id=data.partner_id,
              key=data.account_key, submitted_at=data.submitted_at, program=data.program,
              tier=data.tier)


def on_approved(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationApproved)
    app.update_protection(unit, key=data.account_key, registration_id=data.registration_id,
                          expires_at=data.expires_at)


def on_extended(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationExtended)
    app.update_protection(unit, key=data.account_key, registration_id=data.registration_id,
                          expires_at=data.expires_at)


def on_withdrawn(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationWithdrawn)
    app.update_protection(unit, key=data.account_key, registration_id=data.registration_id,
                          withdrawn_at=data.withdrawn_at)


def on_opportunity_opened(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(OpportunityOpened)
    key = app.crm_account_key(data.account.company_name, data.account.country,
                              data.account.domain)
    app.open_opportunity(unit, opportunity_id=data.opportunity_id, key=key,
                         opened_at=data.opened_at)


def on_deal_closed(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DealClosed)
    key = app.crm_account_key(data.account.company_name, data.account.country,
                              data.account.domain)
    app.close_opportunities(unit, key=key, opportunity_id=data.opportunity_id,
                            closed_at=data.closed_at)


def on_dispute_raised(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DisputeRaised)
    app.raise_dispute(unit, dispute_id=data.dispute_id, registration_id=data.registration_id,
                      raised_at=data.raised_at)


def on_dispute_resolved(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DisputeResolved)
    winner = data.winner.registration_id if isinstance(data.winner, RegistrationWinner) else None
    app.resolve_dispute(unit, dispute_id=data.dispute_id, winner_registration_id=winner,
                        resolved_at=data.resolved_at)


HANDLERS: Mapping[str, Handler] = {
    "policy.published": publish_policy,
    "registration.received": on_received,
    "registration.approved": on_approved,
    "registration.extended": on_extended,
    "registration.withdrawn": on_withdrawn,
    "opportunity.opened": on_opportunity_opened,
    "deal.closed": on_deal_closed,
    "dispute.raised": on_dispute_raised,
    "dispute.resolved": on_dispute_resolved,
}


def _claim_reads(event: ParsedEvent) -> Iterable[UUID]:
    data = event.data_as(out.RegistrationReceived)
    return (AccountClaims.create_id(data.account_key),
            AccountOf.create_id("registration", data.registration_id))


def _approval_read(event: ParsedEvent) -> Iterable[UUID]:
    return (AccountClaims.create_id(event.data_as(out.RegistrationApproved).account_key),)


READS: Mapping[str, Reads] = {
    "registration.received": _claim_reads,
    "registration.approved": _approval_read,
}
