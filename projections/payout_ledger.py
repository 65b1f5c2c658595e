"""The payout ledger by partner and deal: every payout and adjustment emitted, with the
running total, as billing booked them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dealreg.audit import plain
from dealreg.projections.store import Document
from dealreg.services.payouts.domain import PAYOUT_EVENTS, DealPayouts, payout_event


def ledger_key(partner_id: str, deal_id: str) -> str:
    return json.dumps([partner_id, deal_id])


class PayoutLedger:
    name = "payout_ledger"
    sources: Mapping[str, tuple[type, ...]] = {"payouts": PAYOUT_EVENTS}

    def keys(self, service: str, event: Any) -> Iterable[str]:
        return [ledger_key(event.partner_id, event.deal_id)]

    def apply(self, docs: dict[str, Document], service: str, stored: Any) -> None:
        event = payout_event(stored)
        doc = docs[ledger_key(event.partner_id, event.deal_id)]
        doc.update(partner_id=event.partner_id, deal_id=event.deal_id, currency=event.currency)
        if isinstance(event, DealPayouts.Calculated):
            entry = {"kind": "payout", "amount": plain(event.total),
                     "time": plain(event.closed_at), "reason": None}
            doc["total"] = plain(event.total)
        else:
            entry = {"kind": "adjustment", "amount": plain(event.delta),
                     "time": plain(event.decided_at), "reason": event.reason}
            doc["total"] = plain(event.new_total)
        entry.update(payout_id=event.payout_id, sequence=event.sequence)
        doc.setdefault("entries", []).append(entry)
