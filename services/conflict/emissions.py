"""What the conflict service publishes on ``conflicts.v1`` for its stored events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from dealreg.events.schemas import outputs as out
from dealreg.events.schemas.inputs import DirectWinner, RegistrationWinner
from dealreg.outbox import Emission
from dealreg.services.conflict.domain import AccountClaims as Account


def emit(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
    match domain_event:
        case Account.ClaimGranted() as e:
            return [Emission("claim.granted", e.submitted_at, out.ClaimGranted(
                registration_id=e.registration_id, account_key=e.account_key))]
        case Account.ClaimDenied() as e:
            return [Emission("claim.denied", e.submitted_at, out.ClaimDenied(
                registration_id=e.registration_id, account_key=e.account_key, reason=e.reason,
                conflicting_registration_id=e.conflicting_registration_id))]
        case Account.ConflictDetected() as e:
            return [Emission("conflict.detected", e.detected_at, out.ConflictDetected(
                account_key=e.account_key, kind=e.kind, registration_ids=e.registration_ids,
                opportunity_ids=e.opportunity_ids, detected_at=e.detected_at))]
        case Account.DisputeOpened() as e:
            return [Emission("dispute.opened", e.opened_at, out.DisputeOpened(
                dispute_id=e.dispute_id, account_key=e.account_key, kind=e.kind,
                registration_ids=e.registration_ids, opportunity_ids=e.opportunity_ids,
                opened_at=e.opened_at))]
        case Account.DisputeSettled() as e:
            winner = (RegistrationWinner(registration_id=e.approved_registration_id)
                      if e.approved_registration_id else DirectWinner(direct=True))
            return [Emission("dispute.settled", e.settled_at, out.DisputeSettled(
                dispute_id=e.dispute_id, account_key=e.account_key, winner=winner,
                approved_registration_id=e.approved_registration_id,
                rejected_registration_ids=e.rejected_registration_ids,
                settled_at=e.settled_at))]
    return []
