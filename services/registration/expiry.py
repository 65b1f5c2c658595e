"""Expiry: ``registration.expired`` once a protected registration's ``expires_at`` has passed.

The only place where the wall clock decides anything (docs/contract.md §5). The clock is
injected. Which registrations are protected, and until when, is an index kept in memory
from the service's notification log, so a tick never scans history: it reads only the
events stored since the previous tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from eventsourcing.persistence import IntegrityError

from dealreg import metrics
from dealreg.eventstore import ServiceApplication, stored_topics
from dealreg.services.registration.domain import DealRegistration
from dealreg.settings import Settings

log = logging.getLogger(__name__)

READ_BATCH = 1000


@dataclass
class ExpiryIndex:
    """``expires_at`` of every approved registration not yet expired, withdrawn or rejected."""

    position: int = 0
    pending: dict[str, datetime] = field(default_factory=dict)

    def catch_up(self, app: ServiceApplication) -> None:
        """Apply the events stored since the last call. The read is bounded by the log's
        head, and the position moves to the head even when nothing there concerns expiry,
        so a tick never reads the same stretch of the log twice."""
        head = app.recorder.max_notification_id() or 0
        while self.position < head:
            notifications = app.recorder.select_notifications(
                start=self.position, stop=head, limit=READ_BATCH, inclusive_of_start=False,
                topics=TOPICS)
            for notification in notifications:
                self.apply(app.mapper.to_domain_event(notification))
            self.position = notifications[-1].id if len(notifications) == READ_BATCH else head

    def apply(self, domain_event: object) -> None:
        match domain_event:
            case DealRegistration.Approved() | DealRegistration.Extended():
                self.pending[domain_event.registration_id] = domain_event.expires_at
            case DealRegistration.Expired() | DealRegistration.Withdrawn() | (
                DealRegistration.Rejected()
            ):
                self.pending.pop(domain_event.registration_id, None)

    def due(self, now: datetime) -> list[str]:
        return sorted(r for r, expires_at in self.pending.items() if expires_at < now)


TOPICS = stored_topics(DealRegistration.Approved, DealRegistration.Extended,
                       DealRegistration.Expired, DealRegistration.Withdrawn,
                       DealRegistration.Rejected)


def expire_due(app: ServiceApplication, index: ExpiryIndex, now: datetime) -> list[str]:
    """Record ``registration.expired`` for every registration whose window ended before
    ``now``; returns their ids. Safe to run beside the consumer and more than once."""
    index.catch_up(app)
    expired = []
    for registration_id in index.due(now):
        registration = app.stored(DealRegistration.create_id(registration_id))
        if not isinstance(registration, DealRegistration) or not _still_due(registration, now):
            continue
        registration.expire()
        try:
            app.save(registration)
        except IntegrityError:  # the consumer changed it meanwhile: look again next tick
            continue
        expired.append(registration_id)
        log.info("registration expired", extra={"registration_id": registration_id,
                                                 "expired_at": str(registration.expires_at)})
    index.catch_up(app)
    return expired


def _still_due(registration: DealRegistration, now: datetime) -> bool:
    return (
        registration.status == "approved"
        and registration.withdrawn_at is None
        and registration.expires_at is not None
        and registration.expires_at < now
        and registration.expired_at != registration.expires_at
    )


async def run_scheduler(
    app: ServiceApplication,
    stopping: asyncio.Event,
    wake_relay: Callable[[], None],
    clock: Callable[[], datetime],
    settings: Settings,
) -> None:
    """Expire what is due every ``DEALREG_EXPIRY_INTERVAL_MS`` until ``stopping`` is set."""
    interval_s = settings.expiry_interval_ms / 1000
    index = ExpiryIndex()
    while not stopping.is_set():
        try:
            if await asyncio.to_thread(expire_due, app, index, clock()):
                wake_relay()
            metrics.expiry_ticked("registration")
        except Exception:
            log.exception("expiry scheduler tick failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval_s)
