"""Rule 2b of docs/contract.md §5 and §8: a partner at its registration capacity. Pure.

A partner's *open* registrations at ``t`` are its other registrations that, at ``t``, are
under review, or approved with ``protected_from <= t <= expires_at``; in both cases not
withdrawn at or before ``t`` (a withdrawal ends protection at its instant, §5). A
registration rejected for any reason, past its window or withdrawn frees its place; one
under review holds it whatever its submission time, as it does for rule 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dealreg.services.registration.rules import Rejection


@dataclass(frozen=True)
class HeldRegistration:
    """One of the partner's registrations as rule 2b sees it. ``status`` is the
    registration's (``under_review``, ``approved``, ``rejected``, …)."""

    status: str
    protected_from: datetime | None = None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def open_at(self, t: datetime) -> bool:
        if self.withdrawn_at is not None and self.withdrawn_at <= t:
            return False
        if self.status == "under_review":
            return True
        return (self.status == "approved" and self.protected_from is not None
                and self.expires_at is not None and self.protected_from <= t <= self.expires_at)


def open_registrations(others: Iterable[HeldRegistration], t: datetime) -> int:
    """How many of ``others`` are open at ``t``."""
    return sum(1 for registration in others if registration.open_at(t))


def capacity_check(
    partner_id: str, capacity: int | None, others: Iterable[HeldRegistration], t: datetime
) -> Rejection | None:
    """``over_capacity`` when the partner, submitting at ``t``, already holds ``capacity``
    or more open registrations; None when it does not or ``capacity`` is None (no limit).

    ``capacity`` is ``registration_capacity[program][tier]`` of the policy in force at
    ``t`` for the partner's program and its tier at ``t``; ``others`` are the partner's
    registrations on every account except the one being decided.
    """
    if capacity is None:
        return None
    held = open_registrations(others, t)
    if held < capacity:
        return None
    noun = "registration" if held == 1 else "registrations"
    return Rejection("over_capacity",
                     f"partner {partner_id} holds {held} open {noun}; capacity {capacity}")
