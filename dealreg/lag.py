"""How far each service is behind its input: per (service, topic, partition), the topic's end
offset in Kafka, the position the service stored with its events (the next offset it will
read: ``kafka:<cluster id>:<topic>:<partition>`` in its tracking table) and the difference.
``dealreg lag`` prints it; ``dealreg up`` drains it to zero before it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dealreg.eventstore import ServiceApplication
from dealreg.runtime import ServiceDefinition, backlog, stored_position
from dealreg.settings import Settings

#: how long to wait for a topic's partitions to be known
METADATA_WAIT_S = 5.0


@dataclass(frozen=True)
class PartitionLag:
    service: str
    topic: str  # the contract name
    partition: int
    end: int  # the next offset Kafka will write
    stored: int  # the next offset the service will read, as stored with its events

    @property
    def lag(self) -> int:
        return max(self.end - self.stored, 0)


async def cluster_id(settings: Settings) -> str:
    """The id of the Kafka cluster (which scopes every stored position), creating nothing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        return str((await admin.describe_cluster())["cluster_id"])
    finally:
        await admin.close()


class InputEnds:
    """A Kafka client that reads the end offsets of the partitions of ``topics`` (physical
    names), as often as asked.

    The end offset is the high watermark a fetch answers with, not ListOffsets' answer:
    the bundled broker (Tansu) answers ListOffsets wrongly for topics of several
    partitions. Each read fetches at most one record batch per partition, from just
    before the end it last saw."""

    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self._topics = sorted(set(topics))
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
            max_partition_fetch_bytes=1, fetch_max_wait_ms=50)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> InputEnds:
        await self._consumer.start()
        try:
            # every topic's partitions before assigning any: once assigned, the client's
            # metadata covers only the assigned topics
            self._partitions = [TopicPartition(topic, number) for topic in self._topics
                                for number in sorted(await self._numbers(topic))]
        except BaseException:
            await self._consumer.stop()
            raise
        if self._partitions:
            self._consumer.assign(self._partitions)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._consumer.stop()

    async def ends(self) -> dict[tuple[str, int], int]:
        """The end offset of every partition of the topics (those that exist)."""
        for tp in self._partitions:
            self._consumer.seek(tp, max((self._consumer.highwater(tp) or 0) - 1, 0))
        ends: dict[tuple[str, int], int] = {}
        deadline = asyncio.get_running_loop().time() + METADATA_WAIT_S
        while len(ends) < len(self._partitions):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("Kafka did not answer a fetch of the input topics")
            await self._consumer.getmany(timeout_ms=200)
            ends = {(tp.topic, tp.partition): end for tp in self._partitions
                    if (end := self._consumer.highwater(tp)) is not None}
        return ends

    async def _numbers(self, topic: str) -> set[int]:
        deadline = asyncio.get_running_loop().time() + METADATA_WAIT_S
        while not (numbers := self._consumer.partitions_for_topic(topic)):
            if asyncio.get_running_loop().time() > deadline:
                return set()
            await self._consumer.topics()  # refreshes the cluster's metadata
            await asyncio.sleep(0.1)
        return set(numbers)


def input_topics(definition: ServiceDefinition, settings: Settings) -> set[str]:
    """The topics a service reads (physical names)."""
    return {settings.topic(topic) for topic in definition.input_topics}


def inputs_of(definition: ServiceDefinition, settings: Settings,
              ends: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Of the end offsets ``ends``, those of the partitions the service reads."""
    topics = input_topics(definition, settings)
    return {key: end for key, end in ends.items() if key[0] in topics}


def service_lag(definition: ServiceDefinition, app: ServiceApplication, settings: Settings,
                cluster: str, ends: Mapping[tuple[str, int], int]) -> list[PartitionLag]:
    """Each input partition of one service, from its store (blocking: run in a thread)."""
    return [PartitionLag(definition.name, settings.logical_topic(topic), partition, end,
                         stored_position(app, cluster, topic, partition))
            for (topic, partition), end in sorted(inputs_of(definition, settings, ends).items())]


def stack_topics(settings: Settings, services: Iterable[ServiceDefinition]) -> set[str]:
    """Every input topic of ``services`` (physical names)."""
    return {topic for service in services for topic in input_topics(service, settings)}


async def stack_remaining(ends: InputEnds, settings: Settings, cluster: str,
                          services: Mapping[ServiceDefinition, ServiceApplication],
                          ) -> tuple[int, int]:
    """What the services have still to do: the records of their input partitions not
    stored yet, and the stored events not published yet."""
    unread = unpublished = 0
    everywhere = await ends.ends()
    for definition, app in services.items():
        mine = inputs_of(definition, settings, everywhere)
        behind, waiting = await asyncio.to_thread(backlog, app, cluster, mine)
        unread, unpublished = unread + behind, unpublished + waiting
    return unread, unpublished
