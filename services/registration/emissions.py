"""What the registration service publishes for each of its stored events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from dealreg.outbox import Emission
from events.schemas.outputs import RegistrationReceived, RegistrationRejected
from services.registration.domain import DealRegistration


def emit(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
    match domain_event:
        case DealRegistration.Received():
            return [Emission("registration.received", domain_event.submitted_at,
                             RegistrationReceived(
                                 registration_id=domain_event.registration_id,
                                 partner_id=domain_event.partner_id,
                                 account_key=domain_event.account_key,
                                 submitted_at=domain_event.submitted_at,
                                 program=domain_event.program,
                                 tier=domain_event.tier,
                             ))]
        case DealRegistration.Rejected():
            return [Emission("registration.rejected", domain_event.submitted_at,
                             RegistrationRejected(
                                 registration_id=domain_event.registration_id,
                                 partner_id=domain_event.partner_id,
                                 account_key=domain_event.account_key,
                                 reason=domain_event.reason,
                                 conflicting_registration_id=(
                                     domain_event.conflicting_registration_id),
                                 detail=domain_event.detail,
                             ))]
    return []
