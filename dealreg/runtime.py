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
from functools import partial
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

from dealreg import metrics
from dealreg.consumer import EffectivelyOnceConsumer
from dealreg.eventstore import ServiceApplication, application_env
from dealreg.outbox import Emission, Emitter, OutboxRelay
from dealreg.processing import Inbound, InboundProcessor
from dealreg.rejections import RejectedMessage, dead_letter
from dealreg.settings import Settings
from dealreg.topics import ensure_topics
from dealreg.waiting import until_it_answers

log = logging.getLogger(__name__)
#: how long a starting service waits for its event store
STORE_WAIT_S = 120.0
#: the errors of a database out of reach (or starting), which a starting process waits out
UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, OperationalError,
               InterfaceError)
#: longest a readiness probe or a scrape waits for the store and Kafka
PROBE_TIMEOUT_S = 5.0
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


def stored_position(app: ServiceApplication, cluster_id: str, topic: str,
                    partition: int) -> int:
    """The next offset of (topic, partition) a service reads, as stored with its events."""
    return app.position(f"{input_tracking_prefix(cluster_id)}{topic}:{partition}") or 0


def outbox_backlog(app: ServiceApplication, cluster_id: str) -> tuple[int, int]:
    """How far a service's outbox has published, and how many stored events it has not."""
    position = app.position(outbox_tracking_name(cluster_id)) or 0
    return position, max((app.recorder.max_notification_id() or 0) - position, 0)


def backlog(app: ServiceApplication, cluster_id: str,
            ends: Mapping[tuple[str, int], int]) -> tuple[int, int]:
    """What a service has still to do: the records of its input partitions (``ends``: the
    next offset of each (topic, partition) it reads) not stored yet, and its stored events
    not published yet."""
    unread = sum(max(end - stored_position(app, cluster_id, topic, partition), 0)
                 for (topic, partition), end in ends.items())
    return unread, outbox_backlog(app, cluster_id)[1]


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


@dataclass(frozen=True)
class ServiceState:
    """What a service has still to do: the lag of each (topic, partition) it is assigned
    (once fetched from), and its outbox's position and backlog."""

    lags: dict[tuple[str, int], int]
    outbox_position: int
    unpublished: int


class OutboxWatch:
    """Tells an outbox that is stuck: stored events waiting while its position has not
    moved for ``after_s`` seconds (as seen by the readiness probes)."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._position = -1
        self._since = 0.0

    def stuck(self, position: int, unpublished: int) -> bool:
        now = time.monotonic()
        if unpublished == 0 or position != self._position:
            self._position, self._since = position, now
            return False
        return now - self._since > self.after_s


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
    cluster_id: str = ""
    _outbox: OutboxWatch = field(init=False)

    def __post_init__(self) -> None:
        self._outbox = OutboxWatch(self.settings.outbox_stuck_seconds)

    async def _open_store(self) -> ServiceApplication:
        """The event store, waiting for a database that is (re)starting: a service started
        while PostgreSQL recovers waits for it (with back-off, up to ``STORE_WAIT_S``)
        instead of exiting; SIGINT or SIGTERM meanwhile ends the wait
        (:class:`~dealreg.waiting.StoppedWhileWaitingError`)."""
        name = self.definition.name
        return await until_it_answers(
            partial(self.definition.build_application, self.settings),
            errors=UNREACHABLE,
            what=f"the event store ({self.settings.store_description()})",
            service=name, stopping=self._stopping, give_up_after_s=STORE_WAIT_S,
            on_retry=partial(metrics.store_retried, name, "open"))

    def interrupt(self) -> None:
        """Stop waiting for the store (SIGINT or SIGTERM while starting)."""
        self._stopping.set()

    async def start(self) -> None:
        name = self.definition.name
        settings = self.settings
        cluster_id = self.cluster_id = await ensure_topics(settings)
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
            asyncio.create_task(task(self.app, self._stopping, self.relay.wake_to_read, self.clock,
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

    async def readiness(self) -> list[str]:
        """Why this service is not ready to work, in words (none: it is)."""
        name = self.definition.name
        if self.app is None or self._consumer is None:
            return [f"{name}: starting (waiting for the event store "
                    f"{self.settings.store_description()} or Kafka)"]
        try:
            state = await asyncio.wait_for(self._state(), PROBE_TIMEOUT_S)
        except Exception as error:  # what an operator must see: the store is out of reach
            return [f"{name}: event store unreachable: {' '.join(str(error).split())}"[:300]]
        reasons = []
        if not self.consumer_assignment():
            reasons.append(f"{name}: no input partition assigned yet")
        if self._outbox.stuck(state.outbox_position, state.unpublished):
            reasons.append(f"{name}: outbox stuck: {state.unpublished} stored event(s) not "
                           f"published for over {self.settings.outbox_stuck_seconds} s")
        return reasons

    async def measure(self) -> None:
        """Set this service's state gauges (``dealreg.metrics``) from its store and Kafka."""
        if self.app is None or self._consumer is None:
            return
        state = await asyncio.wait_for(self._state(), PROBE_TIMEOUT_S)
        metrics.measure(self.definition.name, state.lags, state.unpublished)

    async def _state(self) -> ServiceState:
        assert self.app is not None
        assert self._consumer is not None
        consumer = self._consumer.subscriber.consumer
        # the high watermark of the consumer's own fetches (the bundled broker answers
        # ListOffsets wrongly for topics of several partitions)
        ends = {} if consumer is None else {
            tp: end for tp in consumer.assignment() if (end := consumer.highwater(tp)) is not None}
        app, cluster_id = self.app, self.cluster_id

        def read() -> ServiceState:
            lags = {(tp.topic, tp.partition):
                    max(end - stored_position(app, cluster_id, tp.topic, tp.partition), 0)
                    for tp, end in ends.items()}
            return ServiceState(lags, *outbox_backlog(app, cluster_id))

        return await asyncio.to_thread(read)

    async def stop(self) -> None:
        """Stop consuming, publish everything stored, close the store."""
        self._stopping.set()
        if self._consumer is not None:
            await self._consumer.stop()
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
