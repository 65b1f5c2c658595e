"""The partner directory: program, and tier over time (``partners.v1``).

Kept by every service that needs it, each in its own store.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.events.schemas import BadInput
from dealreg.events.schemas.inputs import PartnerEnrolled, PartnerTierChanged
from dealreg.events.schemas.values import Program, Tier
from dealreg.identity import business_id
from dealreg.processing import UnitOfWork

log = logging.getLogger(__name__)


class Partner(Aggregate):
    """A partner as the registration service knows it: program, and tier over time."""

    class Enrolled(Aggregate.Created):
        partner_id: str
        name: str
        program: Program
        tier: Tier
        enrolled_at: datetime

    class TierChanged(Aggregate.Event):
        tier: Tier
        effective_at: datetime

    @staticmethod
    def create_id(partner_id: str, **_: object) -> UUID:
        return business_id("partner", partner_id)

    @event(Enrolled)
    def __init__(
        self, *, partner_id: str, name: str, program: Program, tier: Tier, enrolled_at: datetime
    ) -> None:
        self.partner_id = partner_id
        self.name = name
        self.program = program
        self.enrolled_at = enrolled_at
        self.tiers: list[tuple[datetime, Tier]] = [(enrolled_at, tier)]

    @event(TierChanged)
    def change_tier(self, *, tier: Tier, effective_at: datetime) -> None:
        self.tiers.append((effective_at, tier))
        self.tiers.sort(key=lambda change: change[0])

    def tier_at(self, instant: datetime) -> Tier | None:
        """The tier in force at ``instant`` (the latest change effective at or before it)."""
        current = None
        for effective_at, tier in self.tiers:
            if effective_at > instant:
                break
            current = tier
        return current

    def program_and_tier_at(self, instant: datetime) -> tuple[Program, Tier] | None:
        """(program, tier) at ``instant``, or None when not enrolled then."""
        if instant < self.enrolled_at:
            return None
        tier = self.tier_at(instant)
        return None if tier is None else (self.program, tier)


def enroll_partner(unit: UnitOfWork, data: PartnerEnrolled) -> None:
    """Handler of ``partner.enrolled``: a second enrollment of a partner is ignored."""
    if unit.get(Partner, Partner.create_id(data.partner_id)) is not None:
        log.info("partner already enrolled; ignored", extra={"partner_id": data.partner_id})
        return
    unit.add(Partner(partner_id=data.partner_id, name=data.name, program=data.program,
                     tier=data.tier, enrolled_at=data.enrolled_at))


def change_partner_tier(unit: UnitOfWork, data: PartnerTierChanged) -> Partner:
    """Handler of ``partner.tier_changed``; a partner never enrolled is bad input."""
    partner = unit.get(Partner, Partner.create_id(data.partner_id))
    if partner is None:
        raise BadInput(f"data.partner_id: partner {data.partner_id!r} is not enrolled")
    partner.change_tier(tier=data.tier, effective_at=data.effective_at)
    return partner


def partner_at(unit: UnitOfWork, partner_id: str,
               instant: datetime) -> tuple[Program, Tier] | None:
    partner = unit.get(Partner, Partner.create_id(partner_id))
    return None if partner is None else partner.program_and_tier_at(instant)
