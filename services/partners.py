"""The partner directory: program, and tier over time (``partners.v1``).

Kept by every service that needs it, each in its own store.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.identity import business_id


class Partner(Aggregate):
    """A partner as the registration service knows it: program, and tier over time."""

    class Enrolled(Aggregate.Created):
        partner_id: str
        name: str
        program: str
        tier: str
        enrolled_at: datetime

    class TierChanged(Aggregate.Event):
        tier: str
        effective_at: datetime

    @staticmethod
    def create_id(partner_id: str, **_: object) -> UUID:
        return business_id("partner", partner_id)

    @event(Enrolled)
    def __init__(
        self, *, partner_id: str, name: str, program: str, tier: str, enrolled_at: datetime
    ) -> None:
        self.partner_id = partner_id
        self.name = name
        self.program = program
        self.enrolled_at = enrolled_at
        self.tiers: list[tuple[datetime, str]] = [(enrolled_at, tier)]

    @event(TierChanged)
    def change_tier(self, *, tier: str, effective_at: datetime) -> None:
        self.tiers.append((effective_at, tier))
        self.tiers.sort(key=lambda change: change[0])

    def tier_at(self, instant: datetime) -> str | None:
        """The tier in force at ``instant`` (the latest change effective at or before it)."""
        current = None
        for effective_at, tier in self.tiers:
            if effective_at > instant:
                break
            current = tier
        return current

    def program_and_tier_at(self, instant: datetime) -> tuple[str, str] | None:
        """(program, tier) at ``instant``, or None when not enrolled then."""
        if instant < self.enrolled_at:
            return None
        tier = self.tier_at(instant)
        return None if tier is None else (self.program, tier)
