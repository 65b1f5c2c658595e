"""The registration service's use cases, one per input event, each given its typed payload.

Rule 1 of docs/contract.md §5 is decided here (received for the conflict service, or
rejected); rules 2 to 6 are the conflict service's, whose word (``claim.granted``,
``claim.denied``, ``dispute.opened``, ``dispute.settled``) approves, rejects or puts a
registration under review. Extensions and withdrawals are decided here too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from dealreg.events.schemas import BadInput
from dealreg.events.schemas.inputs import (
    PartnerEnrolled,
    PartnerTierChanged,
    PolicyPublished,
    RegistrationExtensionRequested,
    RegistrationSubmitted,
    RegistrationWithdrawalRequested,
)
from dealreg.events.schemas.outputs import ClaimDenied, ClaimGranted, DisputeOpened, DisputeSettled
from dealreg.events.schemas.values import ApprovalVia, Tier
from dealreg.processing import Inbound, UnitOfWork
from dealreg.services.account_key import account_key
from dealreg.services.partners import Partner, change_partner_tier, enroll_partner
from dealreg.services.program_policy import policy_book, publish_policy
from dealreg.services.registration.capacity import HeldRegistration, capacity_check
from dealreg.services.registration.domain import DealRegistration, PartnerRegistrations
from dealreg.services.registration.rules import (
    Rejection,
    SubmissionFacts,
    business_check,
    enrollment_check,
    extension_denial,
)
from dealreg.services.repeats import check_repeat

log = logging.getLogger(__name__)


def registration_of(unit: UnitOfWork, registration_id: str, field: str) -> DealRegistration:
    """The registration named by an input, or bad input naming the field."""
    registration = unit.get(DealRegistration, DealRegistration.create_id(registration_id))
    if registration is None:
        raise BadInput(f"{field}: unknown registration {registration_id!r}")
    return registration


def submission_facts(cmd: RegistrationSubmitted) -> dict[str, Any]:
    """What a registration stores of its submission (and what a repeat must equal)."""
    return {
        "partner_id": cmd.partner_id, "submitted_at": cmd.submitted_at,
        "company_name": cmd.prospect.company_name, "domain": cmd.prospect.domain,
        "country": cmd.prospect.country, "segment": cmd.prospect.segment,
        "contact_name": cmd.contact.name, "contact_email": cmd.contact.email,
        "estimated_value": cmd.estimated_value.amount,
        "currency": cmd.estimated_value.currency,
        "expected_close_date": cmd.expected_close_date,
    }


def submit_registration(unit: UnitOfWork, cmd: RegistrationSubmitted) -> None:
    """Record a submission and decide rule 1: received for the conflict service, or rejected."""
    facts = submission_facts(cmd)
    existing = unit.get(DealRegistration, DealRegistration.create_id(cmd.registration_id))
    if existing is not None:
        check_repeat("registration", cmd.registration_id, existing, facts)
        log.info("registration already submitted; ignored",
                 extra={"registration_id": cmd.registration_id})
        return
    partner = unit.get(Partner, Partner.create_id(cmd.partner_id))
    if partner is None:  # its enrollment may still be on its way on partners.v1
        unit.defer_unless_overdue(f"partner {cmd.partner_id} is not enrolled (yet)")
    prospect = cmd.prospect
    key_error = None
    try:
        key = account_key(company_name=prospect.company_name, country=prospect.country,
                          domain=prospect.domain)
    except ValueError as error:
        key_error = f"prospect.{error}"
        key = account_key(company_name=prospect.company_name, country=prospect.country)
    rejection = business_check(SubmissionFacts(
        submitted_at=cmd.submitted_at, country=prospect.country,
        estimated_value=cmd.estimated_value.amount, currency=cmd.estimated_value.currency,
        expected_close_date=cmd.expected_close_date, account_key_error=key_error,
    )) or enrollment_check(cmd.partner_id, partner.enrolled_at if partner else None,
                           cmd.submitted_at)
    tier = None
    if rejection is None:
        assert partner is not None
        tier = partner.tier_at(cmd.submitted_at)
        assert tier is not None
        rejection = capacity_rejection(unit, cmd.registration_id, key, cmd.submitted_at,
                                       partner, tier)
    if rejection is not None:
        registration = DealRegistration(registration_id=cmd.registration_id, account_key=key,
                                        **facts)
        unit.add(registration)
        registration.reject(reason=rejection.reason, detail=rejection.detail,
                            decided_at=cmd.submitted_at)
        log.info("registration rejected", extra={"registration_id": cmd.registration_id,
                                                  "reason": rejection.reason})
        return
    assert partner is not None
    assert tier is not None
    unit.add(DealRegistration.received(registration_id=cmd.registration_id, account_key=key,
                                       program=partner.program, tier=tier, **facts))
    partner_registrations(unit, cmd.partner_id).register(registration_id=cmd.registration_id)
    log.info("registration received", extra={"registration_id": cmd.registration_id,
                                              "account_key": key})


def partner_registrations(unit: UnitOfWork, partner_id: str) -> PartnerRegistrations:
    return unit.get_or_add(PartnerRegistrations, PartnerRegistrations.create_id(partner_id),
                           lambda: PartnerRegistrations(partner_id=partner_id))


def _held(registration: DealRegistration) -> HeldRegistration:
    """A registration awaiting the conflict service's word counts as held, like one under
    review: it will be approved or put under review unless it is rejected."""
    status = "under_review" if registration.status == "received" else registration.status
    return HeldRegistration(status, registration.protected_from, registration.expires_at,
                            registration.withdrawn_at)


def _claims_same_account(other: DealRegistration, account_key: str, t: datetime) -> bool:
    """Rule 2 (a duplicate on the account) comes before rule 2b and is the conflict
    service's to decide: capacity is not checked then."""
    return other.account_key == account_key and (
        other.status in ("received", "under_review")
        or (other.status == "approved" and other.expires_at is not None
            and t <= other.expires_at
            and (other.withdrawn_at is None or t < other.withdrawn_at)))


def capacity_rejection(unit: UnitOfWork, registration_id: str, account_key: str,
                       submitted_at: datetime, partner: Partner, tier: Tier) -> Rejection | None:
    """Rule 2b (§8): ``over_capacity`` when the partner already holds its capacity of open
    registrations at the submission time. Counted only when the policy sets a capacity;
    while another registration of the partner awaits the conflict service's word, the
    decision waits for it (as long as the order grace allows, then counts it as held)."""
    t = submitted_at
    capacity = policy_book(unit).in_force(t).capacity(partner.program, tier)
    if capacity is None:
        return None
    known = unit.get(PartnerRegistrations, PartnerRegistrations.create_id(partner.partner_id))
    others = [registration_of(unit, other_id, "data.partner_id")
              for other_id in (known.registration_ids if known else [])
              if other_id != registration_id]
    if any(other.status == "received" for other in others):
        unit.defer_unless_overdue(
            f"partner {partner.partner_id} has registrations awaiting a decision")
    if any(_claims_same_account(other, account_key, t) for other in others):
        return None
    return capacity_check(partner.partner_id, capacity, (_held(o) for o in others), t)


def approve(unit: UnitOfWork, registration: DealRegistration, *, via: ApprovalVia,
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


def grant_claim(unit: UnitOfWork, cmd: ClaimGranted) -> None:
    registration = registration_of(unit, cmd.registration_id, "data.registration_id")
    if registration.status == "received":
        approve(unit, registration, via="auto", decided_at=registration.submitted_at)


def deny_claim(unit: UnitOfWork, cmd: ClaimDenied) -> None:
    registration = registration_of(unit, cmd.registration_id, "data.registration_id")
    if registration.status != "received":
        return
    detail = (f"registration {cmd.conflicting_registration_id} holds the account"
              if cmd.reason == "conflict" else "the partner already holds this account")
    registration.reject(reason=cmd.reason, detail=detail, decided_at=registration.submitted_at,
                        conflicting_registration_id=cmd.conflicting_registration_id)


def open_dispute(unit: UnitOfWork, cmd: DisputeOpened) -> None:
    """Registrations awaiting a decision go under review; the others keep their state."""
    for registration_id in cmd.registration_ids:
        registration = registration_of(unit, registration_id, "data.registration_ids")
        if registration.status == "received":
            registration.put_under_review(dispute_id=cmd.dispute_id, decided_at=cmd.opened_at)


def settle_dispute(unit: UnitOfWork, cmd: DisputeSettled) -> None:
    """Each registration takes the settlement's word, once: the same settlement again (a
    republished event) finds it decided at that instant already and changes nothing."""
    if cmd.approved_registration_id is not None:
        winner = registration_of(unit, cmd.approved_registration_id,
                                 "data.approved_registration_id")
        if not (winner.decided_at == cmd.settled_at and winner.status == "approved"):
            approve(unit, winner, via="dispute", decided_at=cmd.settled_at)
    for registration_id in cmd.rejected_registration_ids:
        loser = registration_of(unit, registration_id, "data.rejected_registration_ids")
        if loser.decided_at == cmd.settled_at and loser.status == "rejected":
            continue
        loser.reject(reason="dispute_lost", decided_at=cmd.settled_at,
                     detail=f"dispute {cmd.dispute_id} was settled for "
                     f"{cmd.approved_registration_id or 'the direct sales team'}",
                     conflicting_registration_id=cmd.approved_registration_id)


def _owned(unit: UnitOfWork, registration_id: str, partner_id: str) -> DealRegistration:
    registration = registration_of(unit, registration_id, "data.registration_id")
    if registration.partner_id != partner_id:
        raise BadInput(f"data.partner_id: registration {registration_id!r} belongs to "
                       "another partner")
    return registration


def request_extension(unit: UnitOfWork, cmd: RegistrationExtensionRequested) -> None:
    registration = _owned(unit, cmd.registration_id, cmd.partner_id)
    policy = policy_book(unit).in_force(cmd.requested_at)
    denial = extension_denial(
        protected=registration.is_protected_at(cmd.requested_at), days=cmd.days,
        protected_from=registration.protected_from, expires_at=registration.expires_at,
        max_extension_days=policy.max_extension_days, max_total_days=policy.max_total_days,
    )
    if denial is not None:
        registration.deny_extension(days=cmd.days, reason=denial,
                                    requested_at=cmd.requested_at)
        return
    assert registration.expires_at is not None
    registration.extend(days=cmd.days,
                        expires_at=registration.expires_at + timedelta(days=cmd.days),
                        requested_at=cmd.requested_at)


def withdraw(unit: UnitOfWork, cmd: RegistrationWithdrawalRequested) -> None:
    registration = _owned(unit, cmd.registration_id, cmd.partner_id)
    if registration.withdrawn_at is None and registration.status != "rejected":
        registration.withdraw(withdrawn_at=cmd.withdrawn_at)


def _submission_reads(cmd: RegistrationSubmitted) -> Iterable[UUID]:
    return (DealRegistration.create_id(cmd.registration_id), Partner.create_id(cmd.partner_id),
            PartnerRegistrations.create_id(cmd.partner_id))


def _claim_reads(cmd: ClaimGranted | ClaimDenied) -> Iterable[UUID]:
    return (DealRegistration.create_id(cmd.registration_id),)


INBOUND = (
    Inbound()
    .on(PartnerEnrolled, enroll_partner)
    .on(PartnerTierChanged, change_partner_tier)
    .on(PolicyPublished, publish_policy)
    .on(RegistrationSubmitted, submit_registration, reads=_submission_reads)
    .on(RegistrationExtensionRequested, request_extension)
    .on(RegistrationWithdrawalRequested, withdraw)
    .on(ClaimGranted, grant_claim, reads=_claim_reads)
    .on(ClaimDenied, deny_claim, reads=_claim_reads)
    .on(DisputeOpened, open_dispute)
    .on(DisputeSettled, settle_dispute)
)
