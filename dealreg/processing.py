"""Applying a batch of Kafka records of one partition to a service's event store, exactly once.

The records' effects (new aggregate events) and the partition's new position
(``Tracking(name, last_offset + 1)``) are stored in one transaction, so a record is
applied once however often Kafka delivers it: records below the stored position are
skipped, and a concurrent writer that got there first makes the commit fail with
``IntegrityError``, after which the batch is re-read from the new position.

Bad input (CONTRACT section 7) never stops the batch: it becomes a
``RejectedMessage`` in the same transaction, which the outbox relay publishes to the
dead-letter topic. A record whose handler raises unexpectedly is isolated the same way
(the batch is re-run without its partial effects), so one poisonous message cannot
block a partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking

from dealreg.rejections import RejectedMessage
from dealreg.store import ServiceApplication
from events.schemas import BadInput, ParsedEvent, parse_event

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)

#: Attempts at committing one batch when concurrent writers keep getting there first.
MAX_COMMIT_ATTEMPTS = 10


@dataclass(frozen=True)
class InboundRecord:
    """One Kafka record as read, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class UnitOfWork:
    """The aggregates one batch reads and changes; their new events are stored together."""

    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._aggregates: dict[UUID, Aggregate] = {}

    def get(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate as changed so far in this batch, or as stored, or None."""
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:
            aggregate = self._app.get_or_none(aggregate_id)
            if aggregate is None:
                return None
            self._aggregates[aggregate_id] = aggregate
        if not isinstance(aggregate, kind):
            raise TypeError(f"aggregate {aggregate_id} is a {type(aggregate).__name__}")
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        """Include a new aggregate in this batch."""
        self._aggregates[aggregate.id] = aggregate

    def aggregates(self) -> Iterable[Aggregate]:
        return self._aggregates.values()


Handler = Callable[[UnitOfWork, ParsedEvent], None]


class BatchAbortedError(Exception):
    """A handler raised on one record; the batch is re-run without that record's effects."""

    def __init__(self, offset: int, cause: Exception) -> None:
        super().__init__(f"offset {offset}: {cause!r}")
        self.offset = offset
        self.cause = cause


class InboundProcessor:
    """Applies batches of one service's input records to its application."""

    def __init__(
        self,
        app: ServiceApplication,
        handlers: Mapping[str, Handler],
        logical_topic: Callable[[str], str],
        tracking_prefix: str,
    ) -> None:
        self.app = app
        self.handlers = handlers
        self.logical_topic = logical_topic
        self.tracking_prefix = tracking_prefix

    def tracking_name(self, topic: str, partition: int) -> str:
        return f"{self.tracking_prefix}{topic}:{partition}"

    def next_offset(self, topic: str, partition: int) -> int | None:
        """Where reading this partition resumes: the stored position, if any."""
        return self.app.position(self.tracking_name(topic, partition))

    def process(self, records: Sequence[InboundRecord]) -> int:
        """Apply records of one partition (in offset order); returns how many were new."""
        if not records:
            return 0
        topic, partition = records[0].topic, records[0].partition
        name = self.tracking_name(topic, partition)
        poisoned: dict[int, Exception] = {}
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            start = self.app.position(name) or 0
            fresh = [record for record in records if record.offset >= start]
            if not fresh:
                return 0
            try:
                unit = self._apply_all(fresh, poisoned)
            except BatchAbortedError as aborted:
                poisoned[aborted.offset] = aborted.cause
                continue
            try:
                self.app.record(unit.aggregates(), Tracking(name, fresh[-1].offset + 1))
            except IntegrityError:
                log.info(
                    "batch already applied in part by another consumer; re-reading",
                    extra={"topic": topic, "partition": partition, "attempt": attempt},
                )
                continue
            return len(fresh)
        raise RuntimeError(
            f"could not commit batch of {topic}:{partition} after {MAX_COMMIT_ATTEMPTS} attempts"
        )

    def _apply_all(
        self, records: Sequence[InboundRecord], poisoned: Mapping[int, Exception]
    ) -> UnitOfWork:
        unit = UnitOfWork(self.app)
        for record in records:
            cause = poisoned.get(record.offset)
            if cause is not None:
                self._reject(unit, record, f"processing failed: {type(cause).__name__}: {cause}")
                continue
            try:
                event = parse_event(record.value, self.logical_topic(record.topic))
            except BadInput as bad:
                self._reject(unit, record, bad.error)
                continue
            handler = self.handlers.get(event.name)
            if handler is None:
                continue
            try:
                handler(unit, event)
            except Exception as exc:
                log.exception(
                    "handler failed; the record goes to the dead-letter topic",
                    extra={"topic": record.topic, "partition": record.partition,
                           "offset": record.offset, "event": event.name},
                )
                raise BatchAbortedError(record.offset, exc) from exc
        return unit

    @staticmethod
    def _reject(unit: UnitOfWork, record: InboundRecord, error: str) -> None:
        log.warning(
            "bad input rejected",
            extra={"topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "error": error},
        )
        unit.add(
            RejectedMessage.of_record(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                error=error,
                timestamp_ms=record.timestamp_ms,
            )
        )
