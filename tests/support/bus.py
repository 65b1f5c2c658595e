"""The services wired in memory: every input goes through the real handlers, and every event
a service emits is delivered to the services that read its topic, until nothing is left.

For fast, deterministic tests of the rules across services (no broker; in-memory stores, or
the real stores of ``settings`` when given).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from dealreg.events.schemas import make_event, output_spec
from dealreg.eventstore import ServiceApplication
from dealreg.processing import InboundProcessor, InboundRecord
from dealreg.runtime import ServiceDefinition, emit_with_dead_letters
from dealreg.settings import Settings
from tests.support.events import encode

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@dataclass
class Wired:
    definition: ServiceDefinition
    app: ServiceApplication
    processor: InboundProcessor
    published_up_to: int = 0


@dataclass
class InMemoryBus:
    definitions: Sequence[ServiceDefinition]
    services: dict[str, Wired] = field(default_factory=dict)
    offsets: count[int] = field(default_factory=count)
    rejected: list[str] = field(default_factory=list)
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    settings: Settings | None = None
    #: called after every input and what it caused (e.g. to run projections incrementally)
    after_send: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for definition in self.definitions:
            app = (definition.application(env=IN_MEMORY) if self.settings is None
                   else definition.build_application(self.settings))
            processor = InboundProcessor(app, definition.inbound, logical_topic=lambda t: t,
                                         tracking_prefix="bus:")
            self.services[definition.name] = Wired(definition, app, processor)

    def send(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver an input event, then everything it causes."""
        self._deliver(topic, encode(event))
        while self._publish_new():
            pass
        if self.after_send is not None:
            self.after_send()

    def apps(self) -> dict[str, ServiceApplication]:
        return {name: wired.app for name, wired in self.services.items()}

    def close(self) -> None:
        for wired in self.services.values():
            wired.app.close()

    def app(self, name: str) -> ServiceApplication:
        return self.services[name].app

    def _deliver(self, topic: str, value: bytes) -> None:
        record = InboundRecord(topic, 0, next(self.offsets), b"", value, 0)
        for wired in self.services.values():
            if topic in wired.definition.input_topics:
                wired.processor.process([record])

    def _publish_new(self) -> bool:
        delivered = False
        for wired in self.services.values():
            notifications = wired.app.recorder.select_notifications(
                start=wired.published_up_to, limit=10_000, inclusive_of_start=False)
            emit = emit_with_dead_letters(wired.definition.emit)
            for notification in notifications:
                for emission in emit(wired.app.mapper.to_domain_event(notification)):
                    if emission.name == "message.rejected":
                        self.rejected.append(str(emission.data))
                        continue
                    event = make_event(emission.name, id=str(notification.id),
                                       source=f"/dealreg/{wired.definition.name}",
                                       time=emission.time, data=emission.data)
                    topic = output_spec(emission.name).topic
                    self.published.append((topic, json.loads(event.to_bytes())))
                    self._deliver(topic, event.to_bytes())
                    delivered = True
                wired.published_up_to = notification.id
        return delivered
