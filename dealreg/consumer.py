"""Effectively-once consumption with FastStream: positions live in the event store, not Kafka.

* On every partition assignment the consumer seeks to the position stored with the
  service's events (or to the beginning when there is none), so a record is never
  skipped and never applied twice, whatever Kafka's committed offsets say.
* A poll is applied in one transaction, every partition's records with its position
  (``dealreg.processing``), in a worker thread, because eventsourcing's calls block.
* Messages are parsed by dealreg itself, never by FastStream's JSON decoder: a hostile
  record (broken JSON, undecodable headers) must reach the dead-letter topic, not
  vanish in the framework.
* Order across topics: a handler may defer a record whose decision depends on a fact
  that can arrive on another topic (a submission before its partner's enrollment). The
  records before it are stored, the partition is sought back to it and paused briefly,
  and it is read again until the fact arrives or ``DEALREG_ORDER_GRACE_MS`` has passed
  since it was first deferred; then the handler decides with what it knows. Other
  partitions and topics go on meanwhile.
* A poll returns as soon as records are there, and waits at most
  ``DEALREG_BATCH_TIMEOUT_MS`` when none are (FastStream's own batch poll then sleeps as
  long again, during which arriving records wait: dealreg polls without that pause).
* Infrastructure failures (the database is down) are retried with back-off until
  they pass or the service stops; the batch is never skipped. Kafka offsets are
  committed after the store commit, for lag tools outside dealreg only: at most once per
  ``KAFKA_COMMIT_INTERVAL_S``, off the path of the next poll, and when the consumer stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from itertools import chain
from typing import Annotated

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage

from dealreg import metrics
from dealreg.processing import InboundProcessor, InboundRecord, Partition, Processed
from dealreg.settings import Settings

log = logging.getLogger(__name__)

RawBatch = tuple[ConsumerRecord, ...]
BatchMessage = Annotated[StreamMessage[RawBatch], Context("message")]

RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
#: How soon a deferred record is read again.
DEFERRED_RETRY_S = 0.1
#: How often the Kafka offsets of applied records are committed (lag tools only: dealreg
#: resumes from the positions in its store), instead of one request to the broker per poll.
KAFKA_COMMIT_INTERVAL_S = 1.0


async def _parse_batch(records: RawBatch) -> StreamMessage[RawBatch]:
    """Wrap the records untouched: no header decoding, no JSON decoding."""
    return StreamMessage(raw_message=records, body=b"")


async def _keep_raw(message: StreamMessage[RawBatch]) -> RawBatch:
    return message.raw_message


def _inbound(record: ConsumerRecord) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        timestamp_ms=record.timestamp,
    )


class EffectivelyOnceConsumer:
    """Subscribes a service's input topics on ``broker`` and feeds its processor."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        processor: InboundProcessor,
        settings: Settings,
        service: str,
        topics: list[str],
        on_applied: Callable[[], None],
    ) -> None:
        self.processor = processor
        self.service = service
        self.on_applied = on_applied
        self.stopping = asyncio.Event()
        self.grace_s = settings.order_grace_ms / 1000
        self._deferred_since: dict[tuple[str, int, int], float] = {}
        self._uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}
        self._committer: asyncio.Task[None] | None = None
        self.subscriber: BatchSubscriber = broker.subscriber(
            *topics,
            group_id=settings.consumer_group(service),
            batch=True,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=max(100, settings.session_timeout_ms // 5),
            listener=_SeekToStoredPositions(self),
            parser=_parse_batch,
            decoder=_keep_raw,
        )
        self.subscriber.get_msg = self._poll  # type: ignore[method-assign]
        self.subscriber(self._handle)

    async def _poll(self, consumer: AIOKafkaConsumer) -> RawBatch:
        """The records fetched so far, at most a batch: at once when there are some,
        otherwise as soon as some arrive or after ``DEALREG_BATCH_TIMEOUT_MS`` (then
        none, and FastStream's loop polls again)."""
        subscriber = self.subscriber
        fetched = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms,
                                         max_records=subscriber.max_records)
        return tuple(chain.from_iterable(fetched.values()))

    async def _handle(self, message: BatchMessage) -> None:
        records = [_inbound(record) for record in message.raw_message]
        if not records:
            return
        started = time.monotonic()
        results = await self._process_until_done(records)
        applied: Counter[str] = Counter()
        for (topic, _), processed in results.items():
            applied[topic] += processed.applied
        metrics.poll_applied(self.service, applied, time.monotonic() - started)
        self.on_applied()  # the relay publishes the poll's results meanwhile
        ends = {record.partition_of: record.offset + 1 for record in records}
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        for (topic, partition), processed in results.items():
            next_offset = ends[topic, partition]
            if processed.deferred is not None:
                next_offset = processed.deferred.offset
                self._read_again_later(processed.deferred)
            commits[TopicPartition(topic, partition)] = OffsetAndMetadata(next_offset, "")
            for key in [k for k in self._deferred_since
                        if k[:2] == (topic, partition) and k[2] < next_offset]:
                del self._deferred_since[key]
        self._uncommitted.update(commits)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_later())

    async def _commit_later(self) -> None:
        await asyncio.sleep(KAFKA_COMMIT_INTERVAL_S)
        await self.commit_offsets()

    async def commit_offsets(self) -> None:
        """Commit to Kafka the offsets applied since the last commit."""
        commits, self._uncommitted = self._uncommitted, {}
        try:
            await self._commit_offsets(commits)
        except asyncio.CancelledError:
            self._uncommitted = commits | self._uncommitted  # newer offsets win
            raise

    async def stop(self) -> None:
        """Stop consuming, committing the offsets applied so far first."""
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        await self.commit_offsets()
        await self.subscriber.stop()

    def _overdue(self, record: InboundRecord) -> bool:
        """Whether the grace period of a deferred record is over (order across topics)."""
        since = self._deferred_since.get((record.topic, record.partition, record.offset))
        return since is not None and time.monotonic() - since >= self.grace_s

    def _read_again_later(self, record: InboundRecord) -> None:
        """Seek back to a deferred record and pause its partition for a moment."""
        key = (record.topic, record.partition, record.offset)
        self._deferred_since.setdefault(key, time.monotonic())
        consumer = self.subscriber.consumer
        if consumer is None:
            return
        tp = TopicPartition(record.topic, record.partition)
        consumer.seek(tp, record.offset)
        consumer.pause(tp)

        def resume() -> None:
            if tp in consumer.assignment():
                consumer.resume(tp)

        asyncio.get_running_loop().call_later(DEFERRED_RETRY_S, resume)

    async def _process_until_done(
            self, records: list[InboundRecord]) -> dict[Partition, Processed]:
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(self.processor.process_poll, records,
                                               self._overdue)
            except Exception:
                if self.stopping.is_set():
                    raise
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                log.exception(
                    "storing a batch failed; retrying",
                    extra={"service": self.service, "retry_in_s": delay,
                           "partitions": sorted({f"{r.topic}:{r.partition}" for r in records})},
                )
                attempt += 1
                metrics.store_retried(self.service, "apply")
                await asyncio.sleep(delay)

    async def _commit_offsets(self, commits: dict[TopicPartition, OffsetAndMetadata]) -> None:
        consumer = self.subscriber.consumer
        if consumer is None or not commits:
            return
        assigned = consumer.assignment()
        owned = {tp: offset for tp, offset in commits.items() if tp in assigned}
        try:
            await consumer.commit(owned)
        except Exception as exc:  # lag figures only: the store holds the truth
            log.info("kafka offset commit skipped", extra={"service": self.service,
                                                          "reason": repr(exc)})

    async def seek_to_stored(self, assigned: set[TopicPartition]) -> None:
        consumer = self.subscriber.consumer
        if consumer is None:
            return
        for tp in assigned:
            position = await asyncio.to_thread(
                self.processor.next_offset, tp.topic, tp.partition
            )
            if position is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, position)
            log.info(
                "partition assigned",
                extra={"service": self.service, "topic": tp.topic,
                       "partition": tp.partition, "resume_at": position or 0},
            )


class _SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EffectivelyOnceConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._consumer.seek_to_stored(assigned)
