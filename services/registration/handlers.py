"""Thin translations from the registration service's input events to its commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from dealreg.processing import Handler, Reads, UnitOfWork
from events.schemas import ParsedEvent
from events.schemas.inputs import (
    RegistrationExtensionRequested,
    RegistrationSubmitted,
    RegistrationWithdrawalRequested,
)
from events.schemas.outputs import ClaimDenied, ClaimGranted, DisputeOpened, DisputeSettled
from services.partners import Partner, change_partner_tier, enroll_partner
from services.program_policy import publish_policy
from services.registration import app
from services.registration.domain import DealRegistration


def on_registration_submitted(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(RegistrationSubmitted)
    app.submit_registration(
        unit,
        registration_id=data.registration_id,
        partner_id=data.partner_id,
        submitted_at=data.submitted_at,
        company_name=data.prospect.company_name,
        domain=data.prospect.domain,
        country=data.prospect.country,
        segment=data.prospect.segment,
        contact_name=data.contact.name,
        contact_email=data.contact.email,
        estimated_value=data.estimated_value.amount,
        currency=data.estimated_value.currency,
        expected_close_date=data.expected_close_date,
    )


def on_extension_requested(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(RegistrationExtensionRequested)
    app.request_extension(unit, registration_id=data.registration_id,
                          partner_id=data.partner_id, days=data.days,
                          requested_at=data.requested_at)


def on_withdrawal_requested(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(RegistrationWithdrawalRequested)
    app.withdraw(unit, registration_id=data.registration_id, partner_id=data.partner_id,
                 withdrawn_at=data.withdrawn_at)


def on_claim_granted(unit: UnitOfWork, event: ParsedEvent) -> None:
    app.grant_claim(unit, registration_id=event.data_as(ClaimGranted).registration_id)


def on_claim_denied(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(ClaimDenied)
    app.deny_claim(unit, registration_id=data.registration_id, reason=data.reason,
                   conflicting_registration_id=data.conflicting_registration_id)


def on_dispute_opened(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DisputeOpened)
    app.open_dispute(unit, dispute_id=data.dispute_id, registration_ids=data.registration_ids,
                     opened_at=data.opened_at)


def on_dispute_settled(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DisputeSettled)
    app.settle_dispute(unit, dispute_id=data.dispute_id,
                       approved_registration_id=data.approved_registration_id,
                       rejected_registration_ids=data.rejected_registration_ids,
                       settled_at=data.settled_at)


HANDLERS: Mapping[str, Handler] = {
    "partner.enrolled": enroll_partner,
    "partner.tier_changed": change_partner_tier,
    "policy.published": publish_policy,
    "registration.submitted": on_registration_submitted,
    "registration.extension_requested": on_extension_requested,
    "registration.withdrawn": on_withdrawal_requested,
    "claim.granted": on_claim_granted,
    "claim.denied": on_claim_denied,
    "dispute.opened": on_dispute_opened,
    "dispute.settled": on_dispute_settled,
}


def _submission_reads(event: ParsedEvent) -> Iterable[UUID]:
    data = event.data_as(RegistrationSubmitted)
    return DealRegistration.create_id(data.registration_id), Partner.create_id(data.partner_id)


def _claim_read(event: ParsedEvent) -> Iterable[UUID]:
    if event.name == "claim.granted":
        return (DealRegistration.create_id(event.data_as(ClaimGranted).registration_id),)
    return (DealRegistration.create_id(event.data_as(ClaimDenied).registration_id),)


READS: Mapping[str, Reads] = {
    "registration.submitted": _submission_reads,
    "claim.granted": _claim_read,
    "claim.denied": _claim_read,
}
