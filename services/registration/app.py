"""The registration service's application: commands that turn facts into registration events."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

from dealreg.processing import UnitOfWork
from dealreg.store import ServiceApplication
from services.account_key import account_key
from services.registration.domain import DealRegistration, Partner
from services.registration.rules import SubmissionFacts, business_check, enrollment_check

log = logging.getLogger(__name__)


class RegistrationApplication(ServiceApplication):
    name = "registration"


def enroll_partner(
    unit: UnitOfWork,
    *,
    partner_id: str,
    name: str,
    program: str,
    tier: str,
    enrolled_at: datetime,
) -> None:
    if unit.get(Partner, Partner.create_id(partner_id)) is not None:
        log.info("partner already enrolled; ignored", extra={"partner_id": partner_id})
        return
    unit.add(
        Partner(partner_id=partner_id, name=name, program=program, tier=tier,
                enrolled_at=enrolled_at)
    )


def change_partner_tier(
    unit: UnitOfWork, *, partner_id: str, tier: str, effective_at: datetime
) -> None:
    partner = unit.get(Partner, Partner.create_id(partner_id))
    if partner is None:
        log.warning("tier change for a partner not enrolled; ignored",
                    extra={"partner_id": partner_id})
        return
    partner.change_tier(tier=tier, effective_at=effective_at)


def submit_registration(
    unit: UnitOfWork,
    *,
    registration_id: str,
    partner_id: str,
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
    """Record a submission and decide rule 1: received for the conflict service, or rejected."""
    if unit.get(DealRegistration, DealRegistration.create_id(registration_id)) is not None:
        log.info("registration already submitted; ignored",
                 extra={"registration_id": registration_id})
        return
    key_error = None
    try:
        key = account_key(company_name=company_name, country=country, domain=domain)
    except ValueError as error:
        key_error = str(error)
        key = account_key(company_name=company_name, country=country)
    registration = DealRegistration(
        registration_id=registration_id,
        partner_id=partner_id,
        account_key=key,
        submitted_at=submitted_at,
        company_name=company_name,
        domain=domain,
        country=country,
        segment=segment,
        contact_name=contact_name,
        contact_email=contact_email,
        estimated_value=estimated_value,
        currency=currency,
        expected_close_date=expected_close_date,
    )
    unit.add(registration)
    partner = unit.get(Partner, Partner.create_id(partner_id))
    facts = SubmissionFacts(
        submitted_at=submitted_at,
        country=country,
        estimated_value=estimated_value,
        currency=currency,
        expected_close_date=expected_close_date,
        account_key_error=key_error,
    )
    rejection = business_check(facts) or enrollment_check(
        partner_id, partner.enrolled_at if partner else None, submitted_at
    )
    if rejection is not None:
        registration.reject(reason=rejection.reason, detail=rejection.detail)
        log.info("registration rejected", extra={"registration_id": registration_id,
                                                  "reason": rejection.reason})
        return
    assert partner is not None
    tier = partner.tier_at(submitted_at)
    assert tier is not None
    registration.receive(program=partner.program, tier=tier)
    log.info("registration received", extra={"registration_id": registration_id,
                                              "account_key": key})
