"""Each partner's registrations: one document per registration (key
``registration:<partner uuid>:<registration id>``) with its account, status and window, as
the partner portal lists them (``GET /api/v1/registrations``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from dealreg.projections.account_registry import record
from dealreg.projections.store import Document, ReadStore
from dealreg.services.partners import Partner
from dealreg.services.registration.status import STATUS, Status

NAME = "partner_registrations"


@lru_cache(maxsize=65_536)  # the key made once per partner, not its uuid formatted per event
def registrations_prefix(partner_id: str) -> str:
    return f"registration:{Partner.create_id(partner_id)}:"


class PartnerRegistrations:
    name = NAME
    sources: Mapping[str, tuple[type, ...]] = {"registration": tuple(STATUS)}

    def keys(self, service: str, event: Any) -> Iterable[str]:
        return [registrations_prefix(event.partner_id) + event.registration_id]

    def apply(self, docs: dict[str, Document], service: str, event: Any) -> None:
        doc = docs[registrations_prefix(event.partner_id) + event.registration_id]
        doc.update(registration_id=event.registration_id, account_key=event.account_key)
        record(doc, event)


def registrations_of(store: ReadStore, partner_id: str,
                     status: Status | None = None) -> list[Document]:
    """The partner's registrations (``status``: only those), the latest submitted first."""
    found = [doc for _, doc in store.documents(NAME, registrations_prefix(partner_id))
             if status is None or doc.get("status") == status]
    return sorted(found, key=lambda doc: (datetime.fromisoformat(doc["submitted_at"]),
                                          doc["registration_id"]), reverse=True)
