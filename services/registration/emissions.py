"""What the registration service publishes on ``registrations.v1`` for its stored events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from dealreg.events.schemas import outputs as out
from dealreg.outbox import Emission
from dealreg.services.registration.domain import DealRegistration as Registration


def emit(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
    match domain_event:
        case Registration.SubmittedAndReceived() | Registration.Received() as e:
            return [Emission("registration.received", e.submitted_at, out.RegistrationReceived(
                registration_id=e.registration_id, partner_id=e.partner_id,
                account_key=e.account_key, submitted_at=e.submitted_at, program=e.program,
                tier=e.tier))]
        case Registration.Rejected() as e:
            return [Emission("registration.rejected", e.decided_at, out.RegistrationRejected(
                registration_id=e.registration_id, partner_id=e.partner_id,
                account_key=e.account_key, reason=e.reason,
                conflicting_registration_id=e.conflicting_registration_id, detail=e.detail))]
        case Registration.Approved() as e:
            return [Emission("registration.approved", e.decided_at, out.RegistrationApproved(
                registration_id=e.registration_id, partner_id=e.partner_id,
                account_key=e.account_key, protected_from=e.protected_from,
                expires_at=e.expires_at, window_days=e.window_days, policy_id=e.policy_id,
                policy_version=e.policy_version, via=e.via))]
        case Registration.PutUnderReview() as e:
            return [Emission("registration.under_review", e.decided_at,
                             out.RegistrationUnderReview(
                                 registration_id=e.registration_id, partner_id=e.partner_id,
                                 account_key=e.account_key, dispute_id=e.dispute_id))]
        case Registration.Extended() as e:
            return [Emission("registration.extended", e.requested_at, out.RegistrationExtended(
                registration_id=e.registration_id, partner_id=e.partner_id,
                account_key=e.account_key, days=e.days, expires_at=e.expires_at))]
        case Registration.ExtensionDenied() as e:
            return [Emission("registration.extension_denied", e.requested_at,
                             out.RegistrationExtensionDenied(
                                 registration_id=e.registration_id, partner_id=e.partner_id,
                                 account_key=e.account_key, days=e.days, reason=e.reason))]
        case Registration.Withdrawn() as e:
            return [Emission("registration.withdrawn", e.withdrawn_at, out.RegistrationWithdrawn(
                registration_id=e.registration_id, partner_id=e.partner_id,
                account_key=e.account_key, withdrawn_at=e.withdrawn_at))]
        case Registration.Expired() as e:
            return [Emission("registration.expired", e.expired_at, out.RegistrationExpired(
                registration_id=e.registration_id, partner_id=e.partner_id,
                account_key=e.account_key, expired_at=e.expired_at))]
    return []
