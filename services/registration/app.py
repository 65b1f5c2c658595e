"""The registration service's application: commands that turn facts into registration events."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from dealreg.processing import UnitOfWork
from dealreg.store import ServiceApplication
from events.schemas import BadInput
from services.account_key import account_key
from services.partners import Partner
from services.program_policy import policy_book
from services.registration.domain import DealRegistration
from services.registration.rules import (
    SubmissionFacts,
    business_check,
    enrollment_check,
    extension_denial,
)
from services.repeats import check_repeat

log = logging.getLogger(__name__)


class RegistrationApplication(ServiceApplication):
    name = "registration"


def registration_of(unit: UnitOfWork, registration_id: str, field: str) -> DealRegistration:
    """The registration named by an input, or bad input naming the field."""
    registration = unit.get(DealRegistration, DealRegistration.create_id(registration_id))
    if registration is None:
        raise BadInput(f"{field}: unknown registration {registration_id!r}")
    return registration


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
    existing = unit.get(DealRegistration, DealRegistration.create_id(registration_id))
    if existing is not None:
        check_repeat("registration", registration_id, existing, {
            "partner_id": partner_id, "submitted_at": submitted_at,
            "company_name": company_name, "domain": domain, "country": country,
            "segment": segment, "contact_name": contact_name, "contact_email": contact_email,
            "estimated_value": estimated_value, "currency": currency,
            "expected_close_date": expected_close_date})
        log.info("registration already submitted; ignored",
                 extra={"registration_id": registration_id})
        return
    partner = unit.get(Partner, Partner.create_id(partner_id))
    if partner is None:  # its enrollment may still be on its way on partners.v1
        unit.defer_unless_overdue(f"partner {partner_id} is not enrolled (yet)")
    key_error = None
    try:
        key = account_key(company_name=company_name, country=country, domain=domain)
    except ValueError as error:
        key_error = f"prospect.{error}"
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
        registration.reject(reason=rejection.reason, detail=rejection.detail,
                            decided_at=submitted_at)
        log.info("registration rejected", extra={"registration_id": registration_id,
                                                  "reason": rejection.reason})
        return
    assert partner is not None
    tier = partner.tier_at(submitted_at)
    assert tier is not None
    registration.receive(program=partner.program, tier=tier)
    log.info("registration received", extra={"registration_id": registration_id,
                                              "account_key": key})


def approve(unit: UnitOfWork, registration: DealRegistration, *, via: str,
            decided_at: datetime) -> None:
    """Protect from ``submitted_at`` for the window of the policy in force then."""
    assert registration.program is not None
    assert registration.tier is not None
    policy = policy_book(unit).in_force(registration.submitted_at)
    window_days = policy.window_days(registration.program, registration.tier)
    expires_at = policy.window_end(registration.submitted_at, registration.program,
                                   registration.tier)
    registration.approve(expires_at=expires_at, window_days=window_days,
                         policy_id=policy.policy_id, policy_version=policy.version, via=via,
                         decided_at=decided_at)
    if expires_at < decided_at:
        registration.expire()  # the window is already past (a late dispute decision)
    log.info("registration approved", extra={"registration_id": registration.registration_id,
                                              "via": via})


def grant_claim(unit: UnitOfWork, *, registration_id: str) -> None:
    registration = registration_of(unit, registration_id, "data.registration_id")
    if registration.status == "received":
        approve(unit, registration, via="auto", decided_at=registration.submitted_at)


def deny_claim(unit: UnitOfWork, *, registration_id: str, reason: str,
               conflicting_registration_id: str | None) -> None:
    registration = registration_of(unit, registration_id, "data.registration_id")
    if registration.status != "received":
        return
    detail = (f"registration {conflicting_registration_id} holds the account"
              if reason == "conflict" else "the partner already holds this account")
    registration.reject(reason=reason, detail=detail, decided_at=registration.submitted_at,
                        conflicting_registration_id=conflicting_registration_id)


def open_dispute(unit: UnitOfWork, *, dispute_id: str, registration_ids: Iterable[str],
                 opened_at: datetime) -> None:
    """Registrations awaiting a decision go under review; the others keep their state."""
    for registration_id in registration_ids:
        registration = registration_of(unit, registration_id, "data.registration_ids")
        if registration.status == "received":
            registration.put_under_review(dispute_id=dispute_id, decided_at=opened_at)


def settle_dispute(unit: UnitOfWork, *, dispute_id: str, approved_registration_id: str | None,
                   rejected_registration_ids: Iterable[str], settled_at: datetime) -> None:
    """Each registration takes the settlement's word, once: the same settlement again (a
    republished event) finds it decided at that instant already and changes nothing."""
    if approved_registration_id is not None:
        winner = registration_of(unit, approved_registration_id,
                                 "data.approved_registration_id")
        if not (winner.decided_at == settled_at and winner.status == "approved"):
            approve(unit, winner, via="dispute", decided_at=settled_at)
    for registration_id in rejected_registration_ids:
        loser = registration_of(unit, registration_id, "data.rejected_registration_ids")
        if loser.decided_at == settled_at and loser.status == "rejected":
            continue
        loser.reject(reason="dispute_lost", decided_at=settled_at,
                     detail=f"dispute {dispute_id} was settled for "
                     f"{approved_registration_id or 'the direct sales team'}",
                     conflicting_registration_id=approved_registration_id)


def _owned(unit: UnitOfWork, registration_id: str, partner_id: str) -> DealRegistration:
    registration = registration_of(unit, registration_id, "data.registration_id")
    if registration.partner_id != partner_id:
        raise BadInput(f"data.partner_id: registration {registration_id!r} belongs to "
                       "another partner")
    return registration


def request_extension(unit: UnitOfWork, *, registration_id: str, partner_id: str, days: int,
                      requested_at: datetime) -> None:
    registration = _owned(unit, registration_id, partner_id)
    policy = policy_book(unit).in_force(requested_at)
    denial = extension_denial(
        protected=registration.is_protected_at(requested_at), days=days,
        protected_from=registration.protected_from, expires_at=registration.expires_at,
        max_extension_days=policy.max_extension_days, max_total_days=policy.max_total_days,
    )
    if denial is not None:
        registration.deny_extension(days=days, reason=denial, requested_at=requested_at)
        return
    assert registration.expires_at is not None
    registration.extend(days=days, expires_at=registration.expires_at + timedelta(days=days),
                        requested_at=requested_at)


def withdraw(unit: UnitOfWork, *, registration_id: str, partner_id: str,
             withdrawn_at: datetime) -> None:
    registration = _owned(unit, registration_id, partner_id)
    if registration.withdrawn_at is None and registration.status != "rejected":
        registration.withdraw(withdrawn_at=withdrawn_at)
