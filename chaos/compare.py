"""The final state of a run, read from the services' stores and the payout events billing
received (payouts.v1), and its comparison with the reference and with another run."""

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
#: the payout events whose ``total`` or ``delta`` billing adds up
PAYMENTS = ("dealreg.payout.calculated.v1", "dealreg.payout.adjusted.v1")


@dataclass(frozen=True)
class FinalState:
    """What users rely on: each registration's state, each dispute's outcome, billing's
    sum per (deal, partner), and what became of each manual adjustment (``accepted``: one
    ``payout.adjusted`` with reason ``manual`` names it; else the reason of its
    ``payout.adjustment_rejected``)."""

    registrations: dict[str, RegistrationState]
    disputes: dict[tuple[str, frozenset[str]], str]
    ledger: dict[tuple[str, str], Decimal]
    adjustments: dict[str, str]

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
        payout_events = list(payout_events)
        return cls(registrations, disputes, billed(payout_events), adjustments(payout_events))

    @classmethod
    def expected(cls, reference: Reference) -> FinalState:
        registrations = {
            r.registration_id: (r.status, r.reason,
                                r.expires_at if r.status == "approved" else None,
                                r.withdrawn_at)
            for r in reference.registrations.values()}
        disputes = {(d.kind, frozenset(d.registration_ids)): d.winner or "open"
                    for d in reference.disputes}
        outcomes = {adjustment_id: reason or "accepted"
                    for adjustment_id, (_, reason) in reference.adjustments.items()}
        return cls(registrations, disputes, _paid(reference.amounts()), outcomes)

    def differences(self, other: FinalState, *, limit: int = 10) -> list[str]:
        """What differs from ``other`` (at most ``limit`` lines per kind)."""
        found = []
        for kind, mine, theirs in (("registration", self.registrations, other.registrations),
                                   ("dispute", self.disputes, other.disputes),
                                   ("ledger", self.ledger, other.ledger),
                                   ("adjustment", self.adjustments, other.adjustments)):
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
        if event["id"] in seen or event["type"] not in PAYMENTS:
            continue
        seen.add(event["id"])
        data = event["data"]
        money = data["total"] if "total" in data else data["delta"]
        key = (data["deal_id"], data["partner_id"])
        sums[key] = sums.get(key, Decimal(0)) + Decimal(money["amount"])
    return _paid(sums)


def adjustments(payout_events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each manual adjustment's outcome: ``accepted`` when one ``payout.adjusted`` (each event
    id once) names it, the reason of its ``payout.adjustment_rejected``, or every outcome
    seen, joined, when they disagree or it was applied more than once."""
    seen: dict[str, Mapping[str, Any]] = {}
    for event in payout_events:
        seen.setdefault(event["id"], event)
    outcomes: dict[str, list[str]] = {}
    for event in seen.values():
        data = event["data"]
        if event["type"] == "dealreg.payout.adjustment_rejected.v1":
            outcomes.setdefault(data["adjustment_id"], []).append(data["reason"])
        elif event["type"] == "dealreg.payout.adjusted.v1" and data["reason"] == "manual":
            outcomes.setdefault(data["adjustment_id"], []).append("accepted")
    return {adjustment_id: " + ".join(sorted(found))
            for adjustment_id, found in outcomes.items()}


def _paid(sums: Mapping[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {key: amount for key, amount in sums.items() if amount != 0}
