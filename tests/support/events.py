"""Builders of input CloudEvents as raw JSON, the way producers outside dealreg send them."""

from __future__ import annotations

import json
import uuid
from typing import Any


def cloud_event(type_name: str, subject: str, time: str, data: dict[str, Any],
                *, source: str = "/tests", event_id: str | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": f"dealreg.{type_name}.v1",
        "time": time,
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def partner_enrolled(partner_id: str, *, program: str = "referral", tier: str = "gold",
                     enrolled_at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return cloud_event("partner.enrolled", partner_id, enrolled_at, {
        "partner_id": partner_id, "name": f"Partner {partner_id}", "program": program,
        "tier": tier, "enrolled_at": enrolled_at,
    }, source="/partner-admin")


def partner_tier_changed(partner_id: str, tier: str, effective_at: str) -> dict[str, Any]:
    return cloud_event("partner.tier_changed", partner_id, effective_at, {
        "partner_id": partner_id, "tier": tier, "effective_at": effective_at,
    }, source="/partner-admin")


def registration_submitted(
    registration_id: str,
    partner_id: str,
    *,
    company_name: str = "Acme, Inc.",
    domain: str | None = "https://www.acme.example/",
    country: str = "US",
    submitted_at: str = "2026-03-01T10:00:00Z",
    amount: str = "25000.00",
    currency: str = "EUR",
    expected_close_date: str = "2026-05-01",
) -> dict[str, Any]:
    prospect: dict[str, Any] = {"company_name": company_name, "country": country,
                                "segment": "mid"}
    if domain is not None:
        prospect["domain"] = domain
    return cloud_event("registration.submitted", registration_id, submitted_at, {
        "registration_id": registration_id,
        "partner_id": partner_id,
        "submitted_at": submitted_at,
        "prospect": prospect,
        "contact": {"name": "Jo Buyer", "email": "jo.buyer@acme.example"},
        "estimated_value": {"amount": amount, "currency": currency},
        "expected_close_date": expected_close_date,
    }, source="/partner-portal")


def policy_published(policy_id: str = "spring-2026", *, version: int = 1,
                     effective_from: str = "2026-04-01T00:00:00Z", retroactive: bool = False,
                     time: str = "2026-03-15T00:00:00Z", **body: Any) -> dict[str, Any]:
    return cloud_event("policy.published", policy_id, time, {
        "policy_id": policy_id, "version": version, "effective_from": effective_from,
        "retroactive": retroactive, **body,
    }, source="/program-ops")


def extension_requested(registration_id: str, partner_id: str, days: int,
                        requested_at: str) -> dict[str, Any]:
    return cloud_event("registration.extension_requested", registration_id, requested_at, {
        "registration_id": registration_id, "partner_id": partner_id, "days": days,
        "requested_at": requested_at,
    }, source="/partner-portal")


def withdrawal_requested(registration_id: str, partner_id: str,
                         withdrawn_at: str) -> dict[str, Any]:
    return cloud_event("registration.withdrawn", registration_id, withdrawn_at, {
        "registration_id": registration_id, "partner_id": partner_id,
        "withdrawn_at": withdrawn_at,
    }, source="/partner-portal")


def opportunity_opened(opportunity_id: str, *, company_name: str = "Acme, Inc.",
                       domain: str | None = "acme.example", country: str = "US",
                       opened_at: str = "2026-03-05T00:00:00Z") -> dict[str, Any]:
    account: dict[str, Any] = {"company_name": company_name, "country": country}
    if domain is not None:
        account["domain"] = domain
    return cloud_event("opportunity.opened", opportunity_id, opened_at, {
        "opportunity_id": opportunity_id, "account": account, "owner": "rep-7",
        "opened_at": opened_at,
    }, source="/crm")


def deal_closed(deal_id: str, *, outcome: str = "won", closed_at: str = "2026-04-10T00:00:00Z",
                amount: str = "100000.00", currency: str = "EUR",
                domain: str | None = "acme.example", **extra: Any) -> dict[str, Any]:
    account: dict[str, Any] = {"company_name": "Acme, Inc.", "country": "US"}
    if domain is not None:
        account["domain"] = domain
    return cloud_event("deal.closed", deal_id, closed_at, {
        "deal_id": deal_id, "account": account, "outcome": outcome, "closed_at": closed_at,
        "first_year_value": {"amount": amount, "currency": currency}, **extra,
    }, source="/crm")


def deal_refunded(deal_id: str, refunded_at: str = "2026-05-01T00:00:00Z") -> dict[str, Any]:
    return cloud_event("deal.refunded", deal_id, refunded_at,
                       {"deal_id": deal_id, "refunded_at": refunded_at}, source="/crm")


def dispute_raised(dispute_id: str, registration_id: str,
                   raised_at: str = "2026-03-06T00:00:00Z") -> dict[str, Any]:
    return cloud_event("dispute.raised", dispute_id, raised_at, {
        "dispute_id": dispute_id, "registration_id": registration_id, "raised_at": raised_at,
        "evidence": "We met the buyer first; see the attached meeting notes.",
    }, source="/salesops")


def dispute_resolved(dispute_id: str, winner: dict[str, Any],
                     resolved_at: str = "2026-03-10T00:00:00Z") -> dict[str, Any]:
    return cloud_event("dispute.resolved", dispute_id, resolved_at, {
        "dispute_id": dispute_id, "winner": winner, "resolved_at": resolved_at,
        "resolved_by": "ops-lead-1", "rationale": "Partner evidence predates the opportunity.",
    }, source="/salesops")


def subscription_invoiced(invoice_id: str, deal_id: str, *, period_start: str = "2026-05-01",
                          period_end: str = "2026-05-31", amount: str = "1000.00",
                          currency: str = "EUR",
                          invoiced_at: str = "2026-06-01T00:00:00Z") -> dict[str, Any]:
    return cloud_event("subscription.invoiced", deal_id, invoiced_at, {
        "invoice_id": invoice_id, "deal_id": deal_id, "period_start": period_start,
        "period_end": period_end,
        "recurring_revenue": {"amount": amount, "currency": currency},
        "invoiced_at": invoiced_at,
    }, source="/crm")


def adjustment_requested(adjustment_id: str, deal_id: str, partner_id: str, *,
                         amount: str = "150.00", currency: str = "EUR",
                         reason: str = "Goodwill for the delayed go-live.",
                         requested_at: str = "2026-05-15T00:00:00Z") -> dict[str, Any]:
    return cloud_event("payout.adjustment_requested", deal_id, requested_at, {
        "adjustment_id": adjustment_id, "deal_id": deal_id, "partner_id": partner_id,
        "amount": {"amount": amount, "currency": currency}, "reason": reason,
        "requested_by": "finance-2", "requested_at": requested_at,
    }, source="/salesops")
