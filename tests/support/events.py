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
