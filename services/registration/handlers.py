"""Thin translations from the registration service's input events to its commands."""

from __future__ import annotations

from collections.abc import Mapping

from dealreg.processing import Handler, UnitOfWork
from events.schemas import ParsedEvent
from events.schemas.inputs import PartnerEnrolled, PartnerTierChanged, RegistrationSubmitted
from services.registration import app


def on_partner_enrolled(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(PartnerEnrolled)
    app.enroll_partner(unit, partner_id=data.partner_id, name=data.name, program=data.program,
                       tier=data.tier, enrolled_at=data.enrolled_at)


def on_partner_tier_changed(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(PartnerTierChanged)
    app.change_partner_tier(unit, partner_id=data.partner_id, tier=data.tier,
                            effective_at=data.effective_at)


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


HANDLERS: Mapping[str, Handler] = {
    "partner.enrolled": on_partner_enrolled,
    "partner.tier_changed": on_partner_tier_changed,
    "registration.submitted": on_registration_submitted,
}
