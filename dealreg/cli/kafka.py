"""Operator tools on Kafka: create topics, publish validated events, tail a topic."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dealreg.events.schemas import (
    CLOUDEVENTS_CONTENT_TYPE,
    TOPICS,
    BadInput,
    ParsedEvent,
    kafka_key,
    parse_event,
)
from dealreg.settings import Settings
from dealreg.topics import ensure_topics


async def create_topics(settings: Settings) -> int:
    cluster_id = await ensure_topics(settings)
    for name in TOPICS:
        print(f"{settings.topic(name)}\t{settings.partitions} partitions")
    print(f"cluster {cluster_id}", file=sys.stderr)
    return 0


def read_lines(file: str) -> list[str]:
    """The lines of a JSON-lines file, or of stdin for ``-``."""
    if file == "-":
        return sys.stdin.read().splitlines()
    return Path(file).read_text(encoding="utf-8").splitlines()


@dataclass(frozen=True)
class Message:
    """A valid CloudEvent of a contract topic, as it is produced: Kafka key and value."""

    event: ParsedEvent
    key: bytes
    value: bytes


def validate_line(topic: str, line: str) -> Message:
    """The message of one CloudEvent line of ``topic``, keyed as the contract says, or
    :class:`BadInput` naming the field."""
    value = line.encode("utf-8")
    event = parse_event(value, topic)
    return Message(event, kafka_key(event).encode("utf-8"), value)


def validate_lines(topic: str, lines: Iterable[str]) -> tuple[list[Message], list[str]]:
    """The message of each valid non-blank line, and one error per invalid line."""
    messages: list[Message] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            messages.append(validate_line(topic, line))
        except BadInput as bad:
            errors.append(f"line {number}: {bad.error}")
    return messages, errors


async def produce(settings: Settings, topic: str, messages: Iterable[Message]) -> None:
    """Produce validated messages to ``topic`` (a contract topic name), in order, and wait
    until the broker has acknowledged every one."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    try:
        await producer.start()
        sends = [
            await producer.send(
                settings.topic(topic), value=message.value, key=message.key,
                headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
            )
            for message in messages
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def publish_file(settings: Settings, topic: str, file: str) -> int:
    """Validate every line first; produce nothing unless all are valid."""
    if topic not in TOPICS:
        print(f"dealreg publish: unknown topic {topic!r}; one of: {', '.join(TOPICS)}",
              file=sys.stderr)
        return 2
    messages, errors = validate_lines(topic, read_lines(file))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"dealreg publish: {len(errors)} invalid event(s); nothing was produced",
              file=sys.stderr)
        return 1
    await produce(settings, topic, messages)
    print(f"published {len(messages)} event(s) to {settings.topic(topic)}", file=sys.stderr)
    return 0


async def tail(
    settings: Settings, topic: str, *, from_beginning: bool, idle_exit_s: float | None
) -> int:
    """Print each event's value as one JSON line (non-UTF-8 values as Python bytes reprs)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    try:
        await consumer.start()
        physical = settings.topic(topic)
        partitions = await _partitions(consumer, physical)
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        timeout_ms = int((idle_exit_s or 1.0) * 1000)
        while True:
            batches = await consumer.getmany(timeout_ms=timeout_ms)
            if not batches and idle_exit_s is not None:
                return 0
            for records in batches.values():
                for record in records:
                    value = record.value or b""
                    try:
                        print(value.decode("utf-8"), flush=True)
                    except UnicodeDecodeError:
                        print(repr(value), flush=True)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(50):
        numbers = consumer.partitions_for_topic(topic)
        if numbers:
            return [TopicPartition(topic, number) for number in sorted(numbers)]
        await consumer.topics()  # refreshes the cluster metadata
        await asyncio.sleep(0.1)
    raise SystemExit(f"dealreg tail: topic {topic} does not exist")
