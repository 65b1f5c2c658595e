"""The transactional outbox: publish a service's stored events to Kafka, in order, at least once.

Events are stored first (with the input position that caused them); this relay then
follows the application's notification log, turns each stored domain event into the
CloudEvents the contract says it emits, publishes them, waits for the broker's
acknowledgement, and only then records how far it got. A crash between publishing and
recording re-publishes the same events with the same deterministic ids, which
consumers recognise; nothing is ever lost.

The relay wakes as soon as the service's consumer commits (no polling delay on the hot
path); a slow poll also picks up events written by other processes (``expire-due``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Notification, Tracking
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from dealreg import metrics
from dealreg.events.schemas import CLOUDEVENTS_CONTENT_TYPE, make_event, output_spec
from dealreg.eventstore import ServiceApplication
from dealreg.identity import emitted_event_id
from dealreg.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Emission:
    """One CloudEvent a stored domain event causes: its contract name, business time, data."""

    name: str
    time: datetime
    data: BaseModel


Emitter = Callable[[DomainEventProtocol[Any]], Sequence[Emission]]


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: bytes | None
    value: bytes
    event_id: str


class OutboxRelay:
    """Follows one application's notification log and publishes what it emits."""

    def __init__(
        self,
        *,
        app: ServiceApplication,
        emit: Emitter,
        broker: KafkaBroker,
        settings: Settings,
        service: str,
        tracking_name: str,
    ) -> None:
        self.app = app
        self.emit = emit
        self.broker = broker
        self.settings = settings
        self.service = service
        self.tracking_name = tracking_name
        self.source = f"/dealreg/{service}"
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after new events were stored: publish them now."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set, then publish what is left and return."""
        poll_s = self.settings.outbox_poll_ms / 1000
        while not stopping.is_set():
            self._wake.clear()
            try:
                await self.publish_pending()
            except IntegrityError:
                log.info("another instance published these events first; going on",
                         extra={"service": self.service})
                continue
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"service": self.service})
                metrics.store_retried(self.service, "publish")
                await asyncio.sleep(1.0)
                continue
            waiters = [asyncio.ensure_future(self._wake.wait()),
                       asyncio.ensure_future(stopping.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=poll_s, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        await self.publish_pending()

    async def publish_pending(self) -> int:
        """Publish every stored event not yet published; returns how many Kafka messages."""
        sent = 0
        while True:
            notifications = await asyncio.to_thread(self._next_notifications)
            if not notifications:
                return sent
            started = time.monotonic()
            messages = [m for n in notifications for m in self.messages_for(n)]
            confirmations = [
                await self.broker.publish(
                    message.value,
                    topic=message.topic,
                    key=message.key,
                    headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
                    correlation_id=message.event_id,
                    no_confirm=True,
                )
                for message in messages
            ]
            await asyncio.gather(*confirmations)
            metrics.published(self.service, time.monotonic() - started)
            await asyncio.to_thread(
                self.app.recorder.insert_tracking,
                Tracking(self.tracking_name, notifications[-1].id),
            )
            sent += len(messages)
            self.published += len(messages)

    def _next_notifications(self) -> Sequence[Notification]:
        position = self.app.position(self.tracking_name) or 0
        return self.app.recorder.select_notifications(
            start=position, limit=self.settings.outbox_batch_size, inclusive_of_start=False
        )

    def messages_for(self, notification: Notification) -> list[OutgoingMessage]:
        """The Kafka messages one stored event becomes (deterministic ids)."""
        domain_event = self.app.mapper.to_domain_event(notification)
        messages = []
        for index, emission in enumerate(self.emit(domain_event)):
            metrics.emitted(self.service, emission.name, emission.data)
            spec = output_spec(emission.name)
            event_id = emitted_event_id(
                self.service, str(notification.originator_id), notification.originator_version,
                index,
            )
            cloud_event = make_event(
                emission.name,
                id=event_id,
                source=self.source,
                time=emission.time,
                data=emission.data,
            )
            key = spec.key_of(emission.data)
            messages.append(
                OutgoingMessage(
                    topic=self.settings.topic(spec.topic),
                    key=key.encode() if key is not None else None,
                    value=cloud_event.to_bytes(),
                    event_id=event_id,
                )
            )
        return messages
