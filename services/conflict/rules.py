"""Rules 2 to 6 of docs/contract.md §5: who may claim an account. Pure: no I/O, no clock.

Rule 1 (business checks and enrollment) is decided by the registration service before a
claim reaches the conflict service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from dealreg.events.schemas.values import ClaimDenialReason, ConflictKind, Program, Tier

ClaimStatus = Literal["protected", "under_review", "denied", "rejected"]
#: ``granted``, ``denied``, ``dispute`` (open one) or ``join`` (an open one).
Outcome = Literal["granted", "denied", "dispute", "join"]


@dataclass(frozen=True)
class Claim:
    """A registration on an account as the conflict service knows it."""

    registration_id: str
    partner_id: str
    submitted_at: datetime
    program: Program
    tier: Tier
    status: ClaimStatus
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None
    conflicting_registration_id: str | None = None

    def holds_at(self, instant: datetime) -> bool:
        """Approved, not withdrawn at ``instant``, and its window not ended at ``instant``."""
        return (
            self.status == "protected"
            and self.expires_at is not None
            and instant <= self.expires_at
            and (self.withdrawn_at is None or instant < self.withdrawn_at)
        )

    def protected_at(self, instant: datetime) -> bool:
        return self.holds_at(instant) and self.submitted_at <= instant


@dataclass(frozen=True)
class Opportunity:
    opportunity_id: str
    opened_at: datetime
    closed_at: datetime | None = None

    def open_at(self, instant: datetime) -> bool:
        return self.opened_at <= instant and (self.closed_at is None or instant < self.closed_at)


@dataclass(frozen=True)
class Decision:
    """``outcome`` is ``granted``, ``denied``, ``dispute`` (open one) or ``join`` (an open one)."""

    rule: int
    outcome: Outcome
    reason: ClaimDenialReason | None = None
    conflicting_registration_id: str | None = None
    kind: ConflictKind | None = None
    dispute_id: str | None = None
    opportunity_ids: tuple[str, ...] = ()

    @property
    def explanation(self) -> str:
        return RULE_TEXT[self.rule]


RULE_TEXT = {
    2: "rule 2: the partner already has a registration on this account under review or "
       "protected",
    3: "rule 3: another partner's approved registration holds this account "
       "(first to register wins)",
    4: "rule 4: a dispute on this account is open; the registration joins it",
    5: "rule 5: a direct opportunity on this account was opened at or before the submission",
    6: "rule 6: no conflict; the claim is granted",
}


def decide(
    *,
    registration_id: str,
    partner_id: str,
    submitted_at: datetime,
    claims: Iterable[Claim],
    opportunities: Iterable[Opportunity],
    open_dispute_id: str | None,
) -> Decision:
    """The first of rules 2 to 6 that matches a claim submitted at ``submitted_at``."""
    others = [claim for claim in claims if claim.registration_id != registration_id]
    t = submitted_at
    for claim in others:
        if claim.partner_id == partner_id and (
            claim.status == "under_review" or claim.holds_at(t)
        ):
            return Decision(2, "denied", reason="duplicate",
                            conflicting_registration_id=claim.registration_id)
    holders = sorted((c for c in others if c.partner_id != partner_id and c.holds_at(t)),
                     key=lambda c: c.submitted_at)
    if holders:
        holder = holders[0]
        if holder.submitted_at <= t:
            return Decision(3, "denied", reason="conflict",
                            conflicting_registration_id=holder.registration_id)
        return Decision(3, "dispute", kind="late_earlier_submission",
                        conflicting_registration_id=holder.registration_id)
    if open_dispute_id is not None:
        return Decision(4, "join", dispute_id=open_dispute_id)
    direct = tuple(sorted(o.opportunity_id for o in opportunities if o.open_at(t)))
    if direct:
        return Decision(5, "dispute", kind="partner_vs_direct", opportunity_ids=direct)
    return Decision(6, "granted")


def late_direct_claims(claims: Iterable[Claim], opportunity: Opportunity) -> list[Claim]:
    """Rule 5 applied late (§5): the claims ``opportunity`` would have sent to a dispute had
    it been read before them. Protected and not withdrawn now, submitted at or after it was
    opened, while it was open; earliest first."""
    return sorted((claim for claim in claims
                   if claim.status == "protected" and claim.withdrawn_at is None
                   and opportunity.open_at(claim.submitted_at)),
                  key=lambda claim: (claim.submitted_at, claim.registration_id))
