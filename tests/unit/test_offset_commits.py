"""Kafka offsets (lag tools only) are committed at most once per interval, off the path of
the next poll, and what was applied is committed when the consumer stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from dealreg import consumer as consumer_module
from dealreg.consumer import EffectivelyOnceConsumer
from dealreg.processing import InboundRecord, Partition, Processed
from dealreg.settings import Settings

TOPIC = "registration-requests.v1"


class AppliesEverything:
    def process_poll(self, records: Sequence[InboundRecord],
                     overdue: Callable[[InboundRecord], bool]) -> dict[Partition, Processed]:
        applied: dict[Partition, int] = {}
        for record in records:
            applied[record.partition_of] = applied.get(record.partition_of, 0) + 1
        return {key: Processed(count) for key, count in applied.items()}


class KafkaConsumerDouble:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, OffsetAndMetadata]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits.append(dict(offsets))


class SubscriberDouble:
    def __init__(self) -> None:
        self.consumer: Any = KafkaConsumerDouble()
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


def _poll(partition: int, *offsets: int) -> Any:
    records = tuple(ConsumerRecord(TOPIC, partition, offset, 0, 0, None, b"{}", None, 0, 2,
                                   []) for offset in offsets)
    return StreamMessage(raw_message=records, body=b"")


def _consumer() -> tuple[EffectivelyOnceConsumer, SubscriberDouble]:
    consumer = EffectivelyOnceConsumer(
        broker=KafkaBroker("127.0.0.1:1"), processor=AppliesEverything(),  # type: ignore[arg-type]
        settings=Settings(), service="registration", topics=[TOPIC], on_applied=lambda: None)
    subscriber = SubscriberDouble()
    consumer.subscriber = subscriber  # type: ignore[assignment]
    return consumer, subscriber


def _offsets(commit: dict[TopicPartition, OffsetAndMetadata]) -> dict[int, int]:
    return {tp.partition: meta.offset for tp, meta in commit.items()}


async def test_polls_within_the_interval_make_one_commit_of_the_latest_offsets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "KAFKA_COMMIT_INTERVAL_S", 0.2)
    consumer, subscriber = _consumer()
    await consumer._handle(_poll(0, 0, 1))
    await consumer._handle(_poll(1, 0))
    await consumer._handle(_poll(0, 2, 3))
    assert subscriber.consumer.commits == []  # no request to the broker per poll

    await asyncio.sleep(0.4)

    assert [_offsets(c) for c in subscriber.consumer.commits] == [{0: 4, 1: 1}]


async def test_stopping_commits_what_was_applied_before_the_interval_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "KAFKA_COMMIT_INTERVAL_S", 60.0)
    consumer, subscriber = _consumer()
    await consumer._handle(_poll(1, 5, 6))

    await consumer.stop()

    assert [_offsets(c) for c in subscriber.consumer.commits] == [{1: 7}]
    assert subscriber.stopped
