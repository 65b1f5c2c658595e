"""A running service: its event store, its FastStream broker, its consumer and its outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
)
from faststream.kafka import KafkaBroker

from dealreg.consumer import EffectivelyOnceConsumer
from dealreg.eventstore import ServiceApplication, application_env
from dealreg.outbox import Emission, Emitter, OutboxRelay
from dealreg.processing import Inbound, InboundProcessor
from dealreg.rejections import RejectedMessage, dead_letter
from dealreg.settings import Settings
from dealreg.topics import ensure_topics

log = logging.getLogger(__name__)
#: how long a starting service waits for its event store
STORE_WAIT_S = 120.0
#: attempts at opening a store whose tables another process is creating at the same moment
CREATE_ATTEMPTS = 5


Clock = Callable[[], datetime]
#: Work a service does beside consuming (e.g. the expiry scheduler): runs until the event is
#: set; calls the function after storing events, so that the outbox publishes them.
BackgroundTask = Callable[
    [ServiceApplication, asyncio.Event, Callable[[], None], Clock, Settings],
    Coroutine[Any, Any, None],
]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes one service: its application, what it handles (and so the topics it
    reads), what it emits, and its work beside consuming. Built by the composition root
    (``dealreg.bootstrap``); the runtime knows no service but through this."""

    name: str
    application: type[ServiceApplication]
    inbound: Inbound
    emit: Emitter
    background: tuple[BackgroundTask, ...] = ()

    @property
    def input_topics(self) -> tuple[str, ...]:
        """The contract topics the service reads: those its handled events arrive on."""
        return self.inbound.topics

    def build_application(self, settings: Settings) -> ServiceApplication:
        """The service's application on its store, creating its tables if allowed. Two
        processes creating the same PostgreSQL tables at once can collide in the catalog
        (e.g. two instances started together, or a tool beside a starting service): the
        loser tries again, and finds the tables there."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self.application(env=application_env(settings, self.name))
            except (IntegrityError, InternalError, ProgrammingError) as error:  # duplicates
                if attempt == CREATE_ATTEMPTS:
                    raise
                log.info("tables being created by another process; trying again",
                         extra={"service": self.name, "error": str(error).splitlines()[0]})
                time.sleep(0.2 * attempt * (1 + random.random()))  # noqa: S311 (jitter)
        raise AssertionError("unreachable")


def input_tracking_prefix(cluster_id: str) -> str:
    """The start of the tracking names of a service's Kafka positions (``<prefix><topic>:
    <partition>``), scoped by the Kafka cluster (docs/architecture.md)."""
    return f"kafka:{cluster_id}:"


def outbox_tracking_name(cluster_id: str) -> str:
    """The tracking name of how far a service's outbox has published."""
    return f"outbox:{cluster_id}"


def backlog(app: ServiceApplication, cluster_id: str,
            ends: Mapping[tuple[str, int], int]) -> tuple[int, int]:
    """What a service has still to do: the records of its input partitions (``ends``: the
    next offset of each (topic, partition) it reads) not stored yet, and its stored events
    not published yet."""
    prefix = input_tracking_prefix(cluster_id)
    unread = sum(max(end - (app.position(f"{prefix}{topic}:{partition}") or 0), 0)
                 for (topic, partition), end in ends.items())
    unpublished = ((app.recorder.max_notification_id() or 0)
                   - (app.position(outbox_tracking_name(cluster_id)) or 0))
    return unread, max(unpublished, 0)


def emit_with_dead_letters(emit: Emitter) -> Emitter:
    """``emit`` plus the dead-letter publication of every recorded rejection."""

    def emit_all(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
        if isinstance(domain_event, RejectedMessage.Rejected):
            return [dead_letter(domain_event)]
        return emit(domain_event)

    return emit_all


def outbox_relay(
    definition: ServiceDefinition,
    app: ServiceApplication,
    broker: KafkaBroker,
    settings: Settings,
    cluster_id: str,
) -> OutboxRelay:
    return OutboxRelay(
        app=app,
        emit=emit_with_dead_letters(definition.emit),
        broker=broker,
        settings=settings,
        service=definition.name,
        tracking_name=outbox_tracking_name(cluster_id),
    )


async def publish_stored(
    definition: ServiceDefinition, app: ServiceApplication, settings: Settings
) -> int:
    """Publish what ``app`` stored and its outbox has not published yet (one-shot tools)."""
    cluster_id = await ensure_topics(settings)
    broker = KafkaBroker(settings.bootstrap, client_id=f"dealreg-{definition.name}-tool",
                         logger=None)
    await broker.connect()
    try:
        return await outbox_relay(definition, app, broker, settings, cluster_id).publish_pending()
    finally:
        await broker.stop()


@dataclass
class ServiceRuntime:
    """One service in this process: start, run until told to stop, stop without loss."""

    definition: ServiceDefinition
    settings: Settings
    clock: Clock = wall_clock
    app: ServiceApplication | None = None
    relay: OutboxRelay | None = None
    _broker: KafkaBroker | None = None
    _consumer: EffectivelyOnceConsumer | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _relay_task: asyncio.Task[None] | None = None
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    async def _open_store(self) -> ServiceApplication:
        """The event store, waiting for a database that is (re)starting: a service started
        while PostgreSQL recovers waits for it instead of exiting."""
        deadline = asyncio.get_running_loop().time() + STORE_WAIT_S
        while True:
            try:
                return await asyncio.to_thread(self.definition.build_application, self.settings)
            except (psycopg.OperationalError, psycopg.InterfaceError, OperationalError,
                    InterfaceError) as error:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning("event store unavailable; retrying",
                            extra={"service": self.definition.name, "error": str(error)})
                await asyncio.sleep(1.0)

    async def start(self) -> None:
        name = self.definition.name
        settings = self.settings
        cluster_id = await ensure_topics(settings)
        self.app = await self._open_store()
        self._broker = KafkaBroker(
            settings.bootstrap, client_id=f"dealreg-{name}", logger=None
        )
        self.relay = outbox_relay(self.definition, self.app, self._broker, settings, cluster_id)
        processor = InboundProcessor(
            self.app,
            self.definition.inbound,
            logical_topic=settings.logical_topic,
            tracking_prefix=input_tracking_prefix(cluster_id),
            on_recorded=self.relay.hand,
        )
        self._consumer = EffectivelyOnceConsumer(
            broker=self._broker,
            processor=processor,
            settings=settings,
            service=name,
            topics=[settings.topic(topic) for topic in self.definition.input_topics],
            on_applied=self.relay.wake,
        )
        self._consumer.stopping = self._stopping
        await self._broker.start()
        self._relay_task = asyncio.create_task(self.relay.run(self._stopping))
        self._background = [
            asyncio.create_task(task(self.app, self._stopping, self.relay.wake, self.clock,
                                     settings))
            for task in self.definition.background
        ]
        log.info(
            "service started",
            extra={"service": name, "kafka": settings.bootstrap, "cluster_id": cluster_id,
                   "store": settings.store_description(),
                   "topics": list(self.definition.input_topics)},
        )

    def consumer_assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this instance consumes now."""
        consumer = self._consumer.subscriber.consumer if self._consumer else None
        return {(tp.topic, tp.partition) for tp in consumer.assignment()} if consumer else set()

    async def stop(self) -> None:
        """Stop consuming, publish everything stored, close the store."""
        self._stopping.set()
        if self._consumer is not None:
            await self._consumer.subscriber.stop()
        for task in self._background:
            with contextlib.suppress(Exception):
                await task
        if self._relay_task is not None:
            with contextlib.suppress(Exception):
                await self._relay_task
        if self._broker is not None:
            await self._broker.stop()
        if self.app is not None:
            self.app.close()
        log.info("service stopped", extra={"service": self.definition.name})
