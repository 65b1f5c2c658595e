"""The final state of a run, read from the services' stores and the payout events billing
received, and its comparison with the reference and with another run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chaos.reference import Reference
from dealreg.eventstore import ServiceApplication
from dealreg.services.conflict import salesops
from dealreg.services.registration.domain import DealRegistration

RegistrationState = tuple[str, str | None, datetime | None, datetime | None]


@dataclass(frozen=True)
class FinalState:
    """What users rely on: each registration's state, each dispute's outcome, billing's
    sum per (deal, partner)."""

    registrations: dict[str, RegistrationState]
    disputes: dict[tuple[str, frozenset[str]], str]
    ledger: dict[tuple[str, str], Decimal]

    @classmethod
    def read(cls, registration: ServiceApplication, conflict: ServiceApplication,
             registration_ids: Iterable[str], payout_events: Iterable[Mapping[str, Any]]
             ) -> FinalState:
        registration.refresh()  # a long-lived reader: learn what was stored since
        registrations = {}
        for registration_id in registration_ids:
            r = registration.get_or_none(DealRegistration.create_id(registration_id))
            registrations[registration_id] = (
                ("missing", None, None, None) if r is None else
                (r.status, r.rejection[0] if r.rejection else None,
                 r.expires_at if r.status == "approved" else None, r.withdrawn_at))
        disputes = {(d["kind"], frozenset(d["registration_ids"])): _winner(d["winner"])
                    for d in salesops.list_disputes(conflict)}
        return cls(registrations, disputes, billed(payout_events))

    @classmethod
    def expected(cls, reference: Reference) -> FinalState:
        registrations = {
            r.registration_id: (r.status, r.reason,
                                r.expires_at if r.status == "approved" else None,
                                r.withdrawn_at)
            for r in reference.registrations.values()}
        disputes = {(d.kind, frozenset(d.registration_ids)): d.winner or "open"
                    for d in reference.disputes}
        return cls(registrations, disputes, _paid(reference.amounts()))

    def differences(self, other: FinalState, *, limit: int = 10) -> list[str]:
        """What differs from ``other`` (at most ``limit`` lines per kind)."""
        found = []
        for kind, mine, theirs in (("registration", self.registrations, other.registrations),
                                   ("dispute", self.disputes, other.disputes),
                                   ("ledger", self.ledger, other.ledger)):
            keys = sorted(set(mine) | set(theirs), key=str)
            diffs = [f"{kind} {key}: {mine.get(key)} != {theirs.get(key)}"  # type: ignore[call-overload]
                     for key in keys if mine.get(key) != theirs.get(key)]  # type: ignore[call-overload]
            found.extend(diffs[:limit])
            if len(diffs) > limit:
                found.append(f"… and {len(diffs) - limit} more {kind} differences")
        return found


def _winner(winner: Mapping[str, Any] | None) -> str:
    if winner is None:
        return "open"
    return "direct" if winner.get("direct") else str(winner["registration_id"])


def billed(payout_events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """Billing's sum of ``total`` and ``delta`` per (deal, partner), each event id once;
    zero sums left out."""
    seen: set[str] = set()
    sums: dict[tuple[str, str], Decimal] = {}
    for event in payout_events:
        if event["id"] in seen or event["type"] == "dealreg.payout.withheld.v1":
            continue
        seen.add(event["id"])
        data = event["data"]
        money = data["total"] if "total" in data else data["delta"]
        key = (data["deal_id"], data["partner_id"])
        sums[key] = sums.get(key, Decimal(0)) + Decimal(money["amount"])
    return _paid(sums)


def _paid(sums: Mapping[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {key: amount for key, amount in sums.items() if amount != 0}
