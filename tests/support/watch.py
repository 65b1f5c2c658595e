"""Following output topics during a test and waiting for the events a scenario expects."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from dealreg.settings import Settings

Event = dict[str, Any]


class TopicWatch:
    """Every event of some topics since the start of the test, read continuously."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self.settings = settings
        self.topics = topics
        self.events: dict[str, list[Event]] = {topic: [] for topic in topics}
        #: The applications of the services under watch, by name, when a test provides them.
        self.apps: dict[str, Any] = {}
        self._consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap,
                                          enable_auto_commit=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            physical = self.settings.topic(topic)
            while not self._consumer.partitions_for_topic(physical):
                await self._consumer.topics()
                await asyncio.sleep(0.05)
            partitions += [TopicPartition(physical, p)
                           for p in self._consumer.partitions_for_topic(physical)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    topic = self.settings.logical_topic(record.topic)
                    self.events[topic].append(json.loads(record.value))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()

    def of(self, topic: str, subject: str | None = None, type_: str | None = None) -> list[Event]:
        return [e for e in self.events[topic]
                if (subject is None or e["subject"] == subject)
                and (type_ is None or e["type"] == f"dealreg.{type_}.v1")]

    async def wait(self, predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; seen: {json.dumps(self.events, indent=1)}")
            await asyncio.sleep(0.05)

    async def one(self, topic: str, subject: str, type_: str, timeout_s: float = 30.0) -> Event:
        """The one event of ``type_`` about ``subject`` once it is there."""
        await self.wait(lambda: bool(self.of(topic, subject, type_)), timeout_s)
        [event] = self.of(topic, subject, type_)
        return event


@asynccontextmanager
async def watching(settings: Settings, *topics: str) -> AsyncIterator[TopicWatch]:
    watch = TopicWatch(settings, list(topics))
    await watch.start()
    try:
        yield watch
    finally:
        await watch.stop()
