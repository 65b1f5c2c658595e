"""A consumer's poll returns what was fetched as soon as there is some, and after an empty
poll the next one starts at once: no record waits out a pause (dealreg.consumer)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker

from dealreg.consumer import EffectivelyOnceConsumer
from dealreg.settings import Settings

TOPIC = "registration-requests.v1"


class FetchedRecords:
    """The part of aiokafka's consumer a poll uses: what its fetcher holds."""

    def __init__(self, *fetched: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        self.fetched = list(fetched)
        self.polls: list[dict[str, Any]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[
            TopicPartition, list[ConsumerRecord]]:
        self.polls.append({"timeout_ms": timeout_ms, "max_records": max_records})
        return self.fetched.pop(0)


def _record(partition: int, offset: int) -> ConsumerRecord:
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, None, b"{}", None, 0, 2, [])


def _subscriber(settings: Settings) -> Any:
    consumer = EffectivelyOnceConsumer(
        broker=KafkaBroker("127.0.0.1:1"), processor=None,  # type: ignore[arg-type]
        settings=settings, service="registration", topics=[TOPIC], on_applied=lambda: None)
    return consumer.subscriber


async def test_an_empty_poll_is_not_followed_by_a_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    async def pause(delay: float) -> None:
        raise AssertionError(f"paused {delay} s after an empty poll")

    monkeypatch.setattr(anyio, "sleep", pause)  # FastStream's batch poll pauses with it
    settings = Settings(batch_timeout_ms=200, batch_max_records=50)
    fetcher = FetchedRecords({})
    assert await _subscriber(settings).get_msg(fetcher) == ()
    assert fetcher.polls == [{"timeout_ms": 200, "max_records": 50}]


async def test_a_poll_returns_every_partition_s_records() -> None:
    first, second = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    fetcher = FetchedRecords({first: [_record(0, 7), _record(0, 8)], second: [_record(1, 3)]})
    records = await _subscriber(Settings()).get_msg(fetcher)
    assert [(r.partition, r.offset) for r in records] == [(0, 7), (0, 8), (1, 3)]
