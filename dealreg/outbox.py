"""The transactional outbox: publish a service's stored events to Kafka, in order, at least once.

Events are stored first (with the input position that caused them); this relay then
follows the application's notification log, turns each stored domain event into the
CloudEvents the contract says it emits, publishes them, waits for the broker's
acknowledgement, and only then records how far it got. A crash between publishing and
recording re-publishes the same events with the same deterministic ids, which
consumers recognise; nothing is ever lost.

The relay wakes as soon as the service's consumer commits (no polling delay on the hot
path) and publishes what the consumer handed it; a slow poll (``DEALREG_OUTBOX_POLL_MS``)
also picks up events written by other processes (``expire-due``, another instance), and
the expiry scheduler wakes it to read what it stored.

The consumer hands the relay the events it has just stored, as recorded (with their
positions in the notification log): those are published without reading and decoding
them back. The log is read only for what was stored otherwise (another process, the
expiry scheduler, events the relay had no room to keep), and for a gap between the relay's
position and the first event handed to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Recording, Tracking
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
#: A stored domain event and its position in the notification log.
Stored = tuple[int, DomainEventProtocol[Any]]
#: How many handed events the relay keeps, in outbox batches; beyond, it reads them back.
HANDED_BATCHES = 8


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
        #: events read back from the log rather than handed over (for tests and operators)
        self.read_back = 0
        self._handed: deque[Stored] = deque()  # appended by the consumer's thread
        self._read_requested = False
        self._position: int | None = None  # how far it published, once read from the store
        self._stored: int | None = None  # the position as stored
        self._stored_at = time.monotonic()
        self._poll_s = settings.outbox_poll_ms / 1000

    def wake(self) -> None:
        """Called after the consumer's poll, which handed its events over: publish them now
        (without reading the store, unless something was stored in between)."""
        self._wake.set()

    def wake_to_read(self) -> None:
        """Called after events were stored without being handed over (the expiry
        scheduler): publish them now, reading them from the store."""
        self._read_requested = True
        self._wake.set()

    def hand(self, recordings: Sequence[Recording[Any]]) -> None:
        """Called, from any thread, with events just stored by this process: the relay
        publishes them as they are, without reading them back."""
        if len(self._handed) < HANDED_BATCHES * self.settings.outbox_batch_size:
            self._handed.extend((r.notification.id, r.domain_event) for r in recordings)
        else:
            self._read_requested = True  # no room: these are read back

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set, then publish what is left and return."""
        read_store = True  # at start: whatever earlier runs left unpublished
        while not stopping.is_set():
            self._wake.clear()
            read_store, self._read_requested = read_store or self._read_requested, False
            try:
                await self.publish_pending(read_store=read_store)
            except IntegrityError:
                log.info("another instance published these events first; going on",
                         extra={"service": self.service})
                read_store = True
                continue
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"service": self.service})
                metrics.store_retried(self.service, "publish")
                read_store = True
                await asyncio.sleep(1.0)
                continue
            waiters = [asyncio.ensure_future(self._wake.wait()),
                       asyncio.ensure_future(stopping.wait())]
            done, pending = await asyncio.wait(
                waiters, timeout=self._poll_s, return_when=asyncio.FIRST_COMPLETED
            )
            read_store = not done  # the poll's time is up: look for others' events too
            for waiter in pending:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        await self.publish_pending()

    async def publish_pending(self, *, read_store: bool = True) -> int:
        """Publish every stored event not yet published; returns how many Kafka messages.

        With ``read_store`` false, only the events handed over are published, and the
        store is read only when they do not follow what was published (events stored by
        another process in between): no query when the consumer's events are all there is.
        """
        sent = 0
        while True:
            try:
                batch = self._handed_batch()
                if batch is None:
                    if not read_store and not self._handed:
                        return sent
                    batch = await asyncio.to_thread(self.next_batch)  # reads the store
                if not batch:
                    if read_store:
                        await self._store_position()
                    return sent
                started = time.monotonic()
                messages = [m for _, event in batch for m in self.messages_for(event)]
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
                self._position = batch[-1][0]
                if messages or time.monotonic() - self._stored_at >= self._poll_s:
                    await self._store_position()
            except BaseException:
                self._position = None  # read it again: another instance may have moved it
                raise
            sent += len(messages)
            self.published += len(messages)

    async def _store_position(self) -> None:
        """Store how far the relay got, unless the store has it already. A batch that
        publishes nothing (most of what the payouts service stores emits nothing) leaves
        its position to the next batch that publishes, to the next round that reads the
        store (the relay's poll, its stop, a tool's one-shot run), or to the first batch
        once ``DEALREG_OUTBOX_POLL_MS`` has passed since it was last stored: one
        transaction less per such batch, and at worst those silent events are read again
        after a crash."""
        if self._position is not None and self._position != self._stored:
            await asyncio.to_thread(self.app.record_publication,
                                    Tracking(self.tracking_name, self._position))
            self._stored = self._position
        self._stored_at = time.monotonic()

    def next_batch(self) -> list[Stored]:
        """The stored events to publish next, in the log's order: the ones handed over
        when they follow the position, otherwise those read back from the log up to the
        first handed one."""
        if self._position is None:
            self._position = self._stored = self.app.position(self.tracking_name) or 0
        position, handed = self._position, self._handed
        self._drop_published()
        if not handed or handed[0][0] > position + 1:
            notifications = self.app.recorder.select_notifications(
                start=position, limit=self.settings.outbox_batch_size,
                stop=handed[0][0] - 1 if handed else None, inclusive_of_start=False)
            if notifications or not handed:
                self.read_back += len(notifications)
                return [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
            # Nothing stored before the first handed event: a gap in the log's sequence (a
            # transaction rolled back), never filled later, since writers are serialised.
        return self._take_handed()

    def _handed_batch(self) -> list[Stored] | None:
        """The handed events that directly follow the position, without reading the store
        (so on the event loop, not in a thread); None when the store must be read: the
        position not known yet, nothing handed, or something stored in between."""
        if self._position is None:
            return None
        self._drop_published()
        if not self._handed or self._handed[0][0] != self._position + 1:
            return None
        return self._take_handed()

    def _drop_published(self) -> None:
        """Forget handed events at or before the position (published after a read-back)."""
        handed, position = self._handed, self._position or 0
        while handed and handed[0][0] <= position:
            handed.popleft()

    def _take_handed(self) -> list[Stored]:
        """The first handed event and those that directly follow it, up to a batch."""
        handed, limit = self._handed, self.settings.outbox_batch_size
        batch = [handed.popleft()]
        while handed and len(batch) < limit and handed[0][0] == batch[-1][0] + 1:
            batch.append(handed.popleft())
        return batch

    def messages_for(self, domain_event: DomainEventProtocol[Any]) -> list[OutgoingMessage]:
        """The Kafka messages one stored event becomes (deterministic ids)."""
        messages = []
        for index, emission in enumerate(self.emit(domain_event)):
            metrics.emitted(self.service, emission.name, emission.data)
            spec = output_spec(emission.name)
            event_id = emitted_event_id(
                self.service, str(domain_event.originator_id), domain_event.originator_version,
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
