"""Raw limits, measured in the same run on the same machine with the same message bodies.

(a) aiokafka consuming and JSON-decoding the benchmark's input messages, no processing;
(b) the eventsourcing PostgreSQL process recorder writing as many new aggregates, two events
    each, in batches of ``DEALREG_BATCH_MAX_RECORDS`` with one tracking record per batch;
and reading the services' notification logs in pages (the rebuild's raw limit).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking

from dealreg.eventstore import ServiceApplication, application_env
from dealreg.projections.runner import PAGE
from dealreg.settings import Settings


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


async def kafka_consume(bootstrap: str, topic: str, expected: int) -> Rate:
    """(a) Read ``expected`` records of ``topic`` from the beginning and ``json.loads`` each."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        numbers: set[int] | None = None
        for _ in range(100):
            numbers = consumer.partitions_for_topic(topic)
            if numbers:
                break
            await consumer.topics()
            await asyncio.sleep(0.1)
        if not numbers:
            raise RuntimeError(f"topic {topic} does not exist")
        partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        started = time.perf_counter()
        while count < expected:
            batches = await consumer.getmany(timeout_ms=1_000, max_records=500)
            if not batches and time.perf_counter() - started > 120:
                raise TimeoutError(f"raw consume: read {count} of {expected} in 120 s")
            for records in batches.values():
                for record in records:
                    json.loads(record.value)
                    count += 1
        return Rate(count, time.perf_counter() - started)
    finally:
        await consumer.stop()


class BenchRegistration(Aggregate):
    """A registration as plain as it gets: created with the submission's data, then received."""

    def __init__(self, registration_id: str, partner_id: str, submitted_at: str,
                 prospect: dict[str, Any], contact: dict[str, Any],
                 estimated_value: dict[str, Any], expected_close_date: str) -> None:
        self.registration_id = registration_id
        self.partner_id = partner_id
        self.submitted_at = submitted_at
        self.prospect = prospect
        self.contact = contact
        self.estimated_value = estimated_value
        self.expected_close_date = expected_close_date
        self.status = "submitted"

    @event("Received")
    def receive(self, program: str, tier: str) -> None:
        self.program = program
        self.tier = tier
        self.status = "received"


class RawApplication(ServiceApplication):
    name = "registration"


def raw_env(settings: Settings, schema_service: str, *, chained: bool) -> dict[str, str]:
    """The services' PostgreSQL environment (same pool, same options) in its own schema;
    eventsourcing's own process recorder unless ``chained`` (dealreg's hash-chained one)."""
    env = application_env(settings, schema_service)
    if not chained:
        env.pop("PROCESS_RECORDER_TOPIC", None)
    return env


def aggregates_from(bodies: Sequence[bytes]) -> list[BenchRegistration]:
    aggregates = []
    for body in bodies:
        data = json.loads(body)["data"]
        aggregate = BenchRegistration(
            registration_id=data["registration_id"], partner_id=data["partner_id"],
            submitted_at=data["submitted_at"], prospect=data["prospect"],
            contact=data["contact"], estimated_value=data["estimated_value"],
            expected_close_date=data["expected_close_date"])
        aggregate.receive(program="referral", tier="gold")
        aggregates.append(aggregate)
    return aggregates


def recorder_writes(settings: Settings, schema_service: str, bodies: Sequence[bytes], *,
                    batch: int, chained: bool) -> Rate:
    """(b) Store one new aggregate per body, two events each, ``batch`` aggregates per
    transaction with one tracking record; only the ``record`` calls are timed."""
    app = RawApplication(env=raw_env(settings, schema_service, chained=chained))
    try:
        aggregates = aggregates_from(bodies)
        started = time.perf_counter()
        for position, start in enumerate(range(0, len(aggregates), batch), start=1):
            app.record(aggregates[start:start + batch],
                       Tracking("kafka:bench:registrations.requests.v1:0", position))
        seconds = time.perf_counter() - started
        return Rate(len(aggregates), seconds)
    finally:
        app.close()


def log_read(apps: Mapping[str, ServiceApplication]) -> tuple[Rate, dict[str, int]]:
    """Every notification of every service's log, in pages of ``PAGE``, not even decoded."""
    heads = {name: app.recorder.max_notification_id() or 0 for name, app in apps.items()}
    count = 0
    started = time.perf_counter()
    for name, app in apps.items():
        position = 0
        while position < heads[name]:
            page = app.recorder.select_notifications(
                start=position, stop=heads[name], limit=PAGE, inclusive_of_start=False)
            if not page:
                break
            count += len(page)
            position = page[-1].id
    return Rate(count, time.perf_counter() - started), heads


def notification_heads(apps: Mapping[str, ServiceApplication]) -> dict[str, int]:
    return {name: app.recorder.max_notification_id() or 0 for name, app in apps.items()}
