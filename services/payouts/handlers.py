"""Thin translations from the payouts service's input events to its commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from dealreg.processing import Handler, Reads, UnitOfWork
from events.schemas import ParsedEvent
from events.schemas import outputs as out
from events.schemas.inputs import DealClosed, DealRefunded, PartnerEnrolled, PartnerTierChanged
from services.account_key import account_key
from services.partners import change_partner_tier, enroll_partner
from services.payouts import app
from services.payouts.domain import AccountFacts, DealPayouts
from services.program_policy import publish_policy


def on_policy_published(unit: UnitOfWork, event: ParsedEvent) -> None:
    policy = publish_policy(unit, event)
    if policy is not None and policy.retroactive:
        app.reconcile_deals(unit, app.deals_closed_since(unit, policy.effective_from),
                            reason="policy_retroactive", decided_at=event.envelope.time)


def on_partner_enrolled(unit: UnitOfWork, event: ParsedEvent) -> None:
    """An enrollment read after deals it concerns (another topic) pays them now."""
    enroll_partner(unit, event)
    enrolled_at = event.data_as(PartnerEnrolled).enrolled_at
    app.reconcile_deals(unit, app.deals_closed_since(unit, enrolled_at), reason="late_fact",
                        decided_at=event.envelope.time)


def on_tier_changed(unit: UnitOfWork, event: ParsedEvent) -> None:
    """A tier change can change the payout of any deal closed since it took effect."""
    change_partner_tier(unit, event)
    effective_at = event.data_as(PartnerTierChanged).effective_at
    app.reconcile_deals(unit, app.deals_closed_since(unit, effective_at), reason="late_fact",
                        decided_at=event.envelope.time)


def on_deal_closed(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DealClosed)
    if data.outcome != "won":
        return
    app.close_deal(unit, deal_id=data.deal_id, company_name=data.account.company_name,
                   country=data.account.country, domain=data.account.domain,
                   closed_at=data.closed_at, value=data.first_year_value.amount,
                   currency=data.first_year_value.currency,
                   registration_id=data.registration_id, co_sell=data.co_sell,
                   co_sell_partner_id=data.co_sell_partner_id)


def on_deal_refunded(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(DealRefunded)
    app.refund_deal(unit, deal_id=data.deal_id, refunded_at=data.refunded_at)


def on_approved(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationApproved)
    app.protect(unit, key=data.account_key, registration_id=data.registration_id,
                partner_id=data.partner_id, protected_from=data.protected_from,
                expires_at=data.expires_at,
                reason="dispute_settled" if data.via == "dispute" else "late_fact",
                decided_at=event.envelope.time)


def on_extended(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationExtended)
    facts = app.account(unit, data.account_key)
    protection = facts.protections.get(data.registration_id)
    if protection is not None:
        app.protect(unit, key=data.account_key, registration_id=data.registration_id,
                    partner_id=data.partner_id, protected_from=protection.protected_from,
                    expires_at=data.expires_at, reason="late_fact",
                    decided_at=event.envelope.time)


def on_withdrawn(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationWithdrawn)
    app.unprotect(unit, key=data.account_key, registration_id=data.registration_id,
                  withdrawn_at=data.withdrawn_at, reason="late_fact",
                  decided_at=event.envelope.time)


def on_rejected(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.RegistrationRejected)
    if data.reason == "dispute_lost":
        app.unprotect(unit, key=data.account_key, registration_id=data.registration_id,
                      withdrawn_at=None, reason="dispute_settled",
                      decided_at=event.envelope.time)


def on_dispute_opened(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.DisputeOpened)
    app.change_dispute(unit, key=data.account_key, dispute_id=data.dispute_id, open=True,
                       decided_at=data.opened_at)


def on_dispute_settled(unit: UnitOfWork, event: ParsedEvent) -> None:
    data = event.data_as(out.DisputeSettled)
    app.change_dispute(unit, key=data.account_key, dispute_id=data.dispute_id, open=False,
                       decided_at=data.settled_at)


HANDLERS: Mapping[str, Handler] = {
    "partner.enrolled": on_partner_enrolled,
    "partner.tier_changed": on_tier_changed,
    "policy.published": on_policy_published,
    "deal.closed": on_deal_closed,
    "deal.refunded": on_deal_refunded,
    "registration.approved": on_approved,
    "registration.extended": on_extended,
    "registration.withdrawn": on_withdrawn,
    "registration.rejected": on_rejected,
    "dispute.opened": on_dispute_opened,
    "dispute.settled": on_dispute_settled,
}


def _deal_reads(event: ParsedEvent) -> Iterable[UUID]:
    data = event.data_as(DealClosed)
    key = account_key(company_name=data.account.company_name, country=data.account.country,
                      domain=data.account.domain)
    return DealPayouts.create_id(data.deal_id), AccountFacts.create_id(key)


def _approval_read(event: ParsedEvent) -> Iterable[UUID]:
    return (AccountFacts.create_id(event.data_as(out.RegistrationApproved).account_key),)


READS: Mapping[str, Reads] = {
    "deal.closed": _deal_reads,
    "registration.approved": _approval_read,
}
