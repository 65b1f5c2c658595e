"""Partner pipeline metrics: what each partner registered, what was decided, what they won
and were paid. Read by ``dealreg partners show`` and ``dealreg partners top``.

Definitions (docs/sales-ops.md):

* a deal is *won by* a partner while the partner's net payout on it is above zero (a refund
  or a dispute lost takes it back), and *partner-sourced* when the latest payout basis says
  so (a co-sell payout on a direct deal is not);
* partner-sourced revenue is the value of the partner-sourced deals won, per currency;
* the first won deal is the earliest close of any deal the partner was ever paid for;
* win rate is partner-sourced deals won over registrations approved.

Per partner the projection keeps one document (key ``partner:<partner uuid>``) and one per
deal it was paid for (key ``deal:<partner uuid>:<deal id>``); registration facts and payout
facts write different fields, so the order in which the two logs are read does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from dealreg.audit import plain
from dealreg.projections.money import add
from dealreg.projections.store import Document
from dealreg.services.partners import Partner
from dealreg.services.payouts.domain import PAYOUT_EVENTS, DealPayouts, payout_event
from dealreg.services.registration.domain import DealRegistration


@lru_cache(maxsize=65_536)  # made once per partner: its id (business_id keeps the uuid5)
def partner_key(partner_id: str) -> str:  # formatted for each event is a few % of a rebuild
    return _partner_doc(Partner.create_id(partner_id))


def _partner_doc(partner_uuid: object) -> str:
    return f"partner:{partner_uuid}"


@lru_cache(maxsize=65_536)
def deals_prefix(partner_id: str) -> str:
    return f"deal:{Partner.create_id(partner_id)}:"


def _deal_key(event: Any) -> str:
    return f"{deals_prefix(event.partner_id)}{event.deal_id}"


class PartnerMetrics:
    name = "partner_metrics"
    sources: Mapping[str, tuple[type, ...]] = {
        "registration": (Partner.Enrolled, Partner.TierChanged, DealRegistration.Submitted,
                         DealRegistration.SubmittedAndReceived,
                         DealRegistration.Approved, DealRegistration.Rejected),
        "payouts": PAYOUT_EVENTS,
    }

    def keys(self, service: str, stored: Any) -> Iterable[str]:
        event = payout_event(stored)
        if isinstance(event, Partner.Enrolled | Partner.TierChanged):
            return [_partner_doc(event.originator_id)]
        if isinstance(event, DealPayouts.Calculated | DealPayouts.Adjusted):
            return [partner_key(event.partner_id), _deal_key(event)]
        return [partner_key(event.partner_id)]

    def apply(self, docs: dict[str, Document], service: str, stored: Any) -> None:
        event = payout_event(stored)
        if isinstance(event, DealPayouts.Calculated | DealPayouts.Adjusted):
            _paid(docs[partner_key(event.partner_id)], docs[_deal_key(event)], event)
            return
        if isinstance(event, Partner.Enrolled | Partner.TierChanged):
            doc = docs[_partner_doc(event.originator_id)]
            if isinstance(event, Partner.Enrolled):
                doc.update(partner_id=event.partner_id, name=event.name, program=event.program,
                           tier=event.tier, enrolled_at=plain(event.enrolled_at))
            else:
                doc["tier"] = event.tier
            return
        doc = docs[partner_key(event.partner_id)]
        if isinstance(event, DealRegistration.Submitted):
            _count(doc, "registrations_submitted")
            add(doc.setdefault("pipeline_value", {}), event.currency, event.estimated_value)
        elif isinstance(event, DealRegistration.Approved):
            _count(doc, "registrations_approved")
        else:
            rejected = doc.setdefault("registrations_rejected", {})
            rejected[event.reason] = rejected.get(event.reason, 0) + 1


def _count(doc: Document, field: str, by: int = 1) -> None:
    doc[field] = doc.get(field, 0) + by


def _paid(partner: Document, deal: Document, event: Any) -> None:
    """A payout or adjustment for (partner, deal): move the won / revenue counters when the
    deal's net for the partner crosses zero."""
    before = _standing(deal)
    net = event.total if isinstance(event, DealPayouts.Calculated) else event.new_total
    deal["net"] = str(net)
    deal["currency"] = event.currency
    commission = [line for line in event.lines if line.get("kind") == "commission"]
    if commission:
        deal["value"] = str(commission[0]["base"])
    if event.basis:
        deal["sourced"] = event.basis.get("sourced")
    if isinstance(event, DealPayouts.Calculated):
        deal["closed_at"] = plain(event.closed_at)
    after = _standing(deal)
    add(partner.setdefault("payouts", {}), event.currency,
        event.total if isinstance(event, DealPayouts.Calculated) else event.delta)
    _count(partner, "deals_won", after["won"] - before["won"])
    _count(partner, "partner_sourced_deals_won", after["sourced"] - before["sourced"])
    revenue = partner.setdefault("partner_sourced_revenue", {})
    add(revenue, event.currency, after["revenue"] - before["revenue"])
    if after["won"] and deal.get("closed_at"):
        partner["first_won_at"] = min(partner.get("first_won_at") or deal["closed_at"],
                                      deal["closed_at"], key=datetime.fromisoformat)


def _standing(deal: Document) -> dict[str, Any]:
    won = Decimal(deal.get("net", "0")) > 0
    sourced = won and deal.get("sourced") == "partner"
    return {"won": int(won), "sourced": int(sourced),
            "revenue": Decimal(deal.get("value", "0")) if sourced else Decimal(0)}
