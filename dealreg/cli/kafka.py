"""Operator tools on Kafka: create topics, publish validated events, tail a topic."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from dealreg.actions.producing import produce, validate_lines
from dealreg.cli.actions import CommandError
from dealreg.events.schemas import TOPICS
from dealreg.settings import Settings
from dealreg.topics import ensure_topics


async def create_topics(settings: Settings) -> int:
    cluster_id = await ensure_topics(settings)
    for name in TOPICS:
        print(f"{settings.topic(name)}\t{settings.partitions} partitions")
    print(f"cluster {cluster_id}", file=sys.stderr)
    return 0


def read_text(file: str) -> str:
    """The text of ``file``, or of stdin for ``-``; :class:`CommandError` in one line when
    it cannot be read."""
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        reason = f"no such file (looked in {Path.cwd()})"
    except IsADirectoryError:
        reason = "it is a directory"
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte {error.start})"
    except OSError as error:
        reason = error.strerror or str(error)
    raise CommandError(f"cannot read {file}: {reason}")


def read_lines(file: str) -> list[str]:
    """The lines of a JSON-lines file, or of stdin for ``-``."""
    return read_text(file).splitlines()


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
