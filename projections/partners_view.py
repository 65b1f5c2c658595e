"""``dealreg partners show`` and ``partners top``: partner metrics as sales ops read them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from dealreg.projections.partner_metrics import deals_prefix, partner_key
from dealreg.projections.store import Document, ReadStore


def summary(doc: Document) -> dict[str, Any]:
    """A partner's metrics with the derived ones (win rate, days to the first won deal)."""
    approved = doc.get("registrations_approved", 0)
    won = doc.get("partner_sourced_deals_won", 0)
    days = None
    if doc.get("first_won_at") and doc.get("enrolled_at"):
        elapsed = (datetime.fromisoformat(doc["first_won_at"])
                   - datetime.fromisoformat(doc["enrolled_at"]))
        days = round(elapsed.total_seconds() / 86_400, 1)
    return {
        "partner_id": doc.get("partner_id"),
        "name": doc.get("name"),
        "program": doc.get("program"),
        "tier": doc.get("tier"),
        "enrolled_at": doc.get("enrolled_at"),
        "registrations_submitted": doc.get("registrations_submitted", 0),
        "registrations_approved": approved,
        "registrations_rejected": doc.get("registrations_rejected", {}),
        "pipeline_value": doc.get("pipeline_value", {}),
        "deals_won": doc.get("deals_won", 0),
        "partner_sourced_deals_won": won,
        "partner_sourced_revenue": {currency: amount for currency, amount
                                    in doc.get("partner_sourced_revenue", {}).items()
                                    if Decimal(amount)},
        "payouts": doc.get("payouts", {}),
        "win_rate": round(won / approved, 4) if approved else None,
        "first_won_at": doc.get("first_won_at"),
        "days_to_first_won_deal": days,
    }


def show(store: ReadStore, partner_id: str) -> dict[str, Any] | None:
    doc = store.load("partner_metrics", [partner_key(partner_id)]).get(partner_key(partner_id))
    if not doc:
        return None
    prefix = deals_prefix(partner_id)
    deals = store.documents("partner_metrics", prefix)
    return summary(doc) | {"deals": [
        {"deal_id": key.removeprefix(prefix)} | deal for key, deal in deals]}


def top(store: ReadStore, by: str, limit: int, currency: str) -> list[dict[str, Any]]:
    """The partners ranked by ``by`` (best first); partners without the figure come last."""
    partners = [summary(doc) for _, doc in store.documents("partner_metrics", "partner:")]

    def rank(partner: dict[str, Any]) -> tuple[bool, Decimal]:
        if by == "revenue":
            value = partner["partner_sourced_revenue"].get(currency)
            return value is None, -Decimal(value or 0)
        if by == "win-rate":
            rate = partner["win_rate"]
            return rate is None, -Decimal(str(rate or 0))
        days = partner["days_to_first_won_deal"]
        return days is None, Decimal(str(days or 0))

    return sorted(partners, key=lambda partner: (*rank(partner), partner["partner_id"] or ""))[
        :limit]
