"""Test helpers that talk to the real local broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dealreg.settings import Settings


@dataclass(frozen=True)
class Received:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def json(self) -> Any:
        assert self.value is not None
        return json.loads(self.value)


async def produce(
    settings: Settings,
    topic: str,
    values: Iterable[bytes | None],
    *,
    key: bytes | None = b"k",
    headers: Sequence[tuple[str, bytes]] = (("content-type", b"application/cloudevents+json"),),
    partition: int | None = 0,
) -> None:
    """Produce ``values`` in order to one partition of ``topic`` (a contract topic name)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(
                settings.topic(topic), value=value, key=key, partition=partition,
                headers=list(headers),
            )
    finally:
        await producer.stop()


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    at_least: int,
    timeout_s: float = 30.0,
    settle_s: float = 0.5,
) -> list[Received]:
    """Every record of ``topic`` once ``at_least`` are there (and no more came for ``settle_s``)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        physical = settings.topic(topic)
        deadline = time.monotonic() + timeout_s
        while not consumer.partitions_for_topic(physical):
            await consumer.topics()
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {physical} never appeared")
            await asyncio.sleep(0.1)
        partitions = [TopicPartition(physical, p)
                      for p in sorted(consumer.partitions_for_topic(physical))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Received] = []
        quiet_since = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            for batch in batches.values():
                records.extend(
                    Received(r.partition, r.offset, r.key, r.value, dict(r.headers))
                    for r in batch
                )
                quiet_since = time.monotonic()
            now = time.monotonic()
            if len(records) >= at_least and now - quiet_since >= settle_s:
                return records
            if now > deadline:
                raise AssertionError(
                    f"{physical}: {len(records)} records after {timeout_s} s, "
                    f"expected at least {at_least}"
                )
    finally:
        await consumer.stop()


async def produce_keyed(settings: Settings, topic: str,
                        messages: Iterable[tuple[bytes, bytes]]) -> None:
    """Produce (key, value) pairs in order; the default partitioner places them by key."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(
                settings.topic(topic), value=value, key=key,
                headers=[("content-type", b"application/cloudevents+json")])
    finally:
        await producer.stop()
