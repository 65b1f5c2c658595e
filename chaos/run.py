"""One chaos run: the workload published phase by phase to the three services (separate
processes on the local broker and the suite's own PostgreSQL), hostile messages in between,
faults for a bounded time (in bursts: from the first wave, for the registration rules, from
the late opportunities, for disputes, and from the deals, for payouts), then everything read
back for comparison."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from chaos import hostile
from chaos.cluster import Cluster, FaultDriver
from chaos.compare import FinalState
from chaos.postgres import OwnPostgres
from chaos.workload import PHASES, Message, ObservedDisputes, Workload
from dealreg import audit
from dealreg.bootstrap import definitions
from dealreg.eventstore import ServiceApplication
from dealreg.runtime import backlog
from dealreg.services.conflict import salesops
from dealreg.settings import Settings
from dealreg.topics import ensure_topics
from tests.support import events as ev

log = logging.getLogger(__name__)
T = TypeVar("T")
OUTPUT_TOPICS = ("registrations.v1", "conflicts.v1", "payouts.v1", "dealreg.dlq.v1")
CONTENT_TYPE = [("content-type", b"application/cloudevents+json")]
#: the phases from which a burst of faults starts (each an equal share of the fault time;
#: a burst that is due while the one before still runs follows it)
FAULT_BURSTS = ("wave-1", "late-opportunities", "deals")


@dataclass(frozen=True)
class RunConfig:
    label: str
    seed: int
    registrations: int
    deals: int
    hostile: int
    fault_seconds: float
    base: datetime
    workdir: Path
    drain_timeout_s: float = 600.0


@dataclass
class RunResult:
    label: str
    final: FinalState
    expected: FinalState
    produced: Counter[str]
    hostile: list[Message]
    outputs: dict[str, dict[str, dict[str, Any]]]  # topic → event id → event
    duplicates: Counter[str]  # topic → republished events (same id, same content)
    conflicting: list[str]  # same id with other content
    chains: dict[str, audit.ChainReport]
    chain_contents: dict[str, Counter[tuple[str, str]]]
    faults: dict[str, int] = field(default_factory=dict)
    dead: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def run(config: RunConfig, broker_bootstrap: str, postgres: OwnPostgres) -> RunResult:
    settings = Settings(
        kafka_bootstrap=broker_bootstrap, database_url=postgres.url,
        db_schema_prefix=f"{config.label}_", topic_prefix=f"{config.label}.",
        consumer_group_prefix=f"{config.label}-", partitions=3, session_timeout_ms=3000,
        batch_max_records=200, outbox_poll_ms=200, log_format="text",
        # each phase is drained before the next: the only records that wait for a fact on
        # another topic wait for one that never comes (an unknown partner or deal)
        order_grace_ms=2_000)
    started = time.monotonic()
    cluster_id = await ensure_topics(settings)
    cluster = Cluster(settings, config.workdir / config.label)
    cluster.start()
    workload = Workload(config.seed, config.registrations, config.deals, config.base)
    hostile_messages = hostile.generate(config.hostile, settings.partitions)
    stores = await asyncio.to_thread(_open_stores, settings)
    driver = FaultDriver(cluster, postgres, config.seed)
    faults: asyncio.Task[None] | None = None
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5,
                                max_request_size=4_000_000)
    await producer.start()
    produced: Counter[str] = Counter()
    sent_hostile: list[Message] = []
    dead: set[str] = set()
    try:
        def observed() -> ObservedDisputes:
            return {(d["kind"], frozenset(d["registration_ids"])): d["dispute_id"]
                    for d in _retrying(lambda: salesops.list_disputes(stores["conflict"],
                                                                      open_only=True))}

        rng = random.Random(config.seed)  # noqa: S311 (where hostile messages go)
        phases = workload.phases(observed)
        phase = await asyncio.to_thread(next, phases, None)
        phases_left = len(PHASES)
        while phase is not None:
            if config.fault_seconds and phase.name in FAULT_BURSTS:
                faults = asyncio.create_task(_burst(
                    faults, driver, config.fault_seconds / len(FAULT_BURSTS)))
            extra = _hostile_share(hostile_messages, phases_left)
            phases_left -= 1
            if phase.name == "claims":
                extra += hostile.reused_ids(_first_submissions(workload, 3))
            if phase.name == "retroactive-policy":  # invoices and adjustments are known
                reference = workload.reference
                extra += hostile.reused_payout_ids(
                    list(reference.invoices.values())[:2],
                    [adjustment for adjustment, _ in reference.adjustments.values()][:2])
            messages = _interleave(phase.messages, extra, rng)
            for message in messages:
                await producer.send_and_wait(
                    settings.topic(message.topic), message.value, key=message.key,
                    partition=message.partition, headers=CONTENT_TYPE)
                produced[message.topic] += 1
            sent_hostile += extra
            await _drained(settings, cluster_id, stores, cluster, dead, config.drain_timeout_s)
            log.info("phase %s drained (%d messages)", phase.name, len(messages))
            phase = await asyncio.to_thread(next, phases, None)
        if faults is not None:
            await faults
            for process in cluster.services.values():
                if not process.running:
                    process.start(new_group=True)
            await _drained(settings, cluster_id, stores, cluster, dead, config.drain_timeout_s)
        outputs, duplicates, conflicting = await _read_outputs(settings)
        final = await asyncio.to_thread(
            FinalState.read, stores["registration"], stores["conflict"],
            list(workload.reference.registrations),
            list(outputs["payouts.v1"].values()))
        chains = {name: await asyncio.to_thread(audit.verify, name, app)
                  for name, app in stores.items()}
        contents = {name: await asyncio.to_thread(_chain_content, name, app,
                                                  settings.topic_prefix)
                    for name, app in stores.items()}
    finally:
        if faults is not None and not faults.done():
            faults.cancel()
        await producer.stop()
        cluster.stop()
        for app in stores.values():
            app.close()
    return RunResult(config.label, final, FinalState.expected(workload.reference), produced,
                     sent_hostile, outputs, duplicates, conflicting, chains, contents,
                     dict(driver.counts), sorted(dead), time.monotonic() - started)


async def _burst(before: asyncio.Task[None] | None, driver: FaultDriver,
                 seconds: float) -> None:
    if before is not None:
        await before
    await driver.run(seconds)


def _open_stores(settings: Settings) -> dict[str, ServiceApplication]:
    return _retrying(lambda: {name: definition.build_application(settings)
                              for name, definition in definitions().items()})


def _retrying(read: Callable[[], T], attempts: int = 60) -> T:
    """A read of the stores that outlives a PostgreSQL restart."""
    for attempt in range(attempts):
        try:
            return read()
        except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as error:
            if attempt == attempts - 1:
                raise
            log.info("store unavailable (%s), retrying", error)
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _hostile_share(messages: list[Message], phases_left: int) -> list[Message]:
    """An even share of the hostile messages left, taken off ``messages``."""
    share = messages[:-(-len(messages) // max(phases_left, 1))]
    del messages[:len(share)]
    return share


def _interleave(valid: list[Message], extra: list[Message],
                rng: random.Random) -> list[Message]:
    merged = list(valid)
    for message in extra:
        merged.insert(rng.randint(0, len(merged)), message)
    return merged


def _first_submissions(workload: Workload, count: int) -> list[dict[str, Any]]:
    """Registration events of the workload already processed, to submit again altered."""
    chosen = []
    for registration in list(workload.reference.registrations.values())[:count]:
        event = ev.registration_submitted(
            registration.registration_id, registration.partner_id, domain=registration.account,
            submitted_at=registration.submitted_at.isoformat().replace("+00:00", "Z"))
        chosen.append(event)
    return chosen


async def _drained(settings: Settings, cluster_id: str, stores: dict[str, ServiceApplication],
                   cluster: Cluster, dead: set[str], timeout_s: float) -> None:
    """Wait until every service has read its input topics to the end and published every
    event it stored, twice in a row (nothing in flight between)."""
    deadline = time.monotonic() + timeout_s
    calm = 0
    while calm < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the services did not drain within {timeout_s} s; logs in "
                               f"{cluster.logs}")
        dead.update(cluster.dead())
        if dead:
            raise RuntimeError(f"{', '.join(sorted(dead))} stopped on its own; logs in "
                               f"{cluster.logs}")
        ends = await _end_offsets(settings)
        done = await asyncio.to_thread(_all_done, stores, cluster_id, ends, settings)
        calm = calm + 1 if done else 0
        await asyncio.sleep(0.5)


def _all_done(stores: dict[str, ServiceApplication], cluster_id: str,
              ends: dict[TopicPartition, int], settings: Settings) -> bool:
    return all(_service_done(name, app, cluster_id, ends, settings)
               for name, app in stores.items())


def _service_done(name: str, app: ServiceApplication, cluster_id: str,
                  ends: dict[TopicPartition, int], settings: Settings) -> bool:
    definition = definitions()[name]
    physical = {settings.topic(topic) for topic in definition.input_topics}

    mine = {(tp.topic, tp.partition): end for tp, end in ends.items() if tp.topic in physical}
    return _retrying(lambda: backlog(app, cluster_id, mine) == (0, 0))


async def _end_offsets(settings: Settings) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.topic(topic), p)
                      for topic in ("partners.v1", "program.v1", "registrations.requests.v1",
                                    "crm.v1", "salesops.v1", "registrations.v1", "conflicts.v1")
                      for p in range(settings.partitions)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def _read_outputs(settings: Settings) -> tuple[
        dict[str, dict[str, dict[str, Any]]], Counter[str], list[str]]:
    """Every event on the output topics by id; republished ones counted, an id seen with
    other content reported."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    outputs: dict[str, dict[str, dict[str, Any]]] = {topic: {} for topic in OUTPUT_TOPICS}
    duplicates: Counter[str] = Counter()
    conflicting: list[str] = []
    try:
        partitions = [TopicPartition(settings.topic(topic), p) for topic in OUTPUT_TOPICS
                      for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                topic = settings.logical_topic(tp.topic)
                for record in records:
                    event = json.loads(record.value)
                    seen = outputs[topic].get(event["id"])
                    if seen is None:
                        outputs[topic][event["id"]] = event
                    elif seen == event:
                        duplicates[topic] += 1
                    else:
                        conflicting.append(f"{topic} {event['id']}")
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return outputs, duplicates, conflicting


def _chain_content(name: str, app: ServiceApplication,
                   prefix: str) -> Counter[tuple[str, str]]:
    """What a chain holds: the events of each record (aggregate), independent of recording
    times and positions, of the run's topic prefix (a dead letter's id is made of its
    physical topic), and of the order in which one record took facts that arrived on two
    topics at once (e.g. a settlement on conflicts.v1 and its approval on registrations.v1:
    Kafka orders partitions, not topics, in any run)."""
    content: Counter[tuple[str, str]] = Counter()
    for entry in audit.chained_log(name, app):
        notification = entry.notification
        if notification is None:
            continue
        originator = str(notification.originator_id)
        if notification.topic.endswith("RejectedMessage.Rejected"):
            rejected: Any = app.mapper.to_domain_event(notification)
            originator = (f"{rejected.topic.removeprefix(prefix)}:{rejected.partition}:"
                          f"{rejected.offset}")
        content[(originator, notification.topic)] += 1
    return content


def output_keys(result: RunResult, topic: str) -> set[str]:
    """The events of an output topic, by id (dead letters: by the record they reject)."""
    events = result.outputs[topic]
    if topic != "dealreg.dlq.v1":
        return set(events)
    prefix = f"{result.label}."
    return {f"{e['source']} {e['data']['topic'].removeprefix(prefix)}:{e['data']['partition']}:"
            f"{e['data']['offset']}" for e in events.values()}


def dlq_reasons(result: RunResult) -> Counter[str]:
    """Dead letters by the first words of their error (the field and the kind of problem)."""
    reasons: Counter[str] = Counter()
    for event in result.outputs["dealreg.dlq.v1"].values():
        error = str(event["data"]["error"])
        reasons[error.split(":")[0]] += 1
    return reasons


def unmatched_hostile(result: RunResult, settings_prefix: str) -> list[str]:
    """Hostile messages with no dead letter naming their topic and a reason."""
    dead_letters = [event["data"] for event in result.outputs["dealreg.dlq.v1"].values()]
    missing = []
    for message in result.hostile:
        topic = f"{settings_prefix}{message.topic}"
        if not any(letter["topic"] == topic and letter["error"] and _same_original(
                letter, message.value) for letter in dead_letters):
            missing.append(f"{message.hostile} on {message.topic}")
    return missing


def _same_original(letter: dict[str, Any], value: bytes) -> bool:
    original = letter.get("original")
    if original is None:
        return False
    if letter.get("original_encoding") == "base64":
        return base64.b64decode(original) == value[:len(base64.b64decode(original))]
    return bool(value.decode("utf-8", "replace").startswith(str(original)[:1000]))


def summary(results: Sequence[RunResult]) -> dict[str, Any]:
    return {result.label: {"seconds": round(result.seconds, 1),
                           "events_in": dict(result.produced),
                           "events_out": {topic: len(events)
                                          for topic, events in result.outputs.items()},
                           "republished": dict(result.duplicates),
                           "faults": result.faults} for result in results}
