"""A running service: its event store, its FastStream broker, its consumer and its outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import DomainEventProtocol
from faststream.kafka import KafkaBroker

from dealreg.consumer import EffectivelyOnceConsumer
from dealreg.outbox import Emission, Emitter, OutboxRelay
from dealreg.processing import Handler, InboundProcessor
from dealreg.rejections import RejectedMessage, dead_letter
from dealreg.settings import Settings
from dealreg.store import ServiceApplication, application_env
from dealreg.topics import ensure_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes one service: the topics it reads, how it handles them, what it emits."""

    name: str
    application: type[ServiceApplication]
    input_topics: tuple[str, ...]
    handlers: Mapping[str, Handler]
    emit: Emitter

    def build_application(self, settings: Settings) -> ServiceApplication:
        return self.application(env=application_env(settings, self.name))


def emit_with_dead_letters(emit: Emitter) -> Emitter:
    """``emit`` plus the dead-letter publication of every recorded rejection."""

    def emit_all(domain_event: DomainEventProtocol[Any]) -> Sequence[Emission]:
        if isinstance(domain_event, RejectedMessage.Rejected):
            return [dead_letter(domain_event)]
        return emit(domain_event)

    return emit_all


@dataclass
class ServiceRuntime:
    """One service in this process: start, run until told to stop, stop without loss."""

    definition: ServiceDefinition
    settings: Settings
    app: ServiceApplication | None = None
    relay: OutboxRelay | None = None
    _broker: KafkaBroker | None = None
    _consumer: EffectivelyOnceConsumer | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _relay_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        name = self.definition.name
        settings = self.settings
        cluster_id = await ensure_topics(settings)
        self.app = await asyncio.to_thread(self.definition.build_application, settings)
        processor = InboundProcessor(
            self.app,
            self.definition.handlers,
            logical_topic=settings.logical_topic,
            tracking_prefix=f"kafka:{cluster_id}:",
        )
        self._broker = KafkaBroker(
            settings.bootstrap, client_id=f"dealreg-{name}", logger=None
        )
        self.relay = OutboxRelay(
            app=self.app,
            emit=emit_with_dead_letters(self.definition.emit),
            broker=self._broker,
            settings=settings,
            service=name,
            tracking_name=f"outbox:{cluster_id}",
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
        log.info(
            "service started",
            extra={"service": name, "kafka": settings.bootstrap, "cluster_id": cluster_id,
                   "store": settings.store_description(),
                   "topics": list(self.definition.input_topics)},
        )

    async def stop(self) -> None:
        """Stop consuming, publish everything stored, close the store."""
        self._stopping.set()
        if self._consumer is not None:
            await self._consumer.subscriber.stop()
        if self._relay_task is not None:
            with contextlib.suppress(Exception):
                await self._relay_task
        if self._broker is not None:
            await self._broker.stop()
        if self.app is not None:
            self.app.close()
        log.info("service stopped", extra={"service": self.definition.name})
