"""Applying a poll of Kafka records to a service's event store, exactly once.

The records' effects (new aggregate events) and the new position of every partition the
poll read (``Tracking(name, last_offset + 1)``, one per partition) are stored in one
transaction, so a record is applied once however often Kafka delivers it: records below
the stored position are skipped, and a concurrent writer that got there first makes the
commit fail with ``IntegrityError``, after which the poll is re-read from the new
positions. One transaction per poll, not per partition: one refresh, one commit and one
outbox wake for all of it.

Bad input (docs/contract.md §7) never stops the batch: it becomes a
``RejectedMessage`` in the same transaction, which the outbox relay publishes to the
dead-letter topic. A record whose handler finds it invalid (``BadInput``, e.g. a
reference to an unknown registration) or raises unexpectedly is isolated the same way:
the batch is re-run without that record's partial effects, so one poisonous message
cannot block a partition.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, Tracking
from pydantic import BaseModel

from dealreg.events.schemas import BadInput, ParsedEvent, parse_event, spec_of
from dealreg.eventstore import ServiceApplication
from dealreg.rejections import RejectedMessage

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)
M = TypeVar("M", bound=BaseModel)
#: (topic, partition)
Partition = tuple[str, int]

#: Attempts at committing one poll when concurrent writers keep getting there first. (A
#: poisoned or deferred record also makes a poll re-run, without it: each takes a record
#: out, so those re-runs end by themselves, however many such records a poll holds.)
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

    @property
    def partition_of(self) -> Partition:
        return self.topic, self.partition


class DeferredError(Exception):
    """A record cannot be decided yet: a fact it depends on may still be on its way."""

    def __init__(self, record: InboundRecord, reason: str) -> None:
        super().__init__(reason)
        self.record = record
        self.reason = reason


class UnitOfWork:
    """The aggregates one batch reads and changes; their new events are stored together."""

    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._aggregates: dict[UUID, Aggregate] = {}
        self._record: InboundRecord | None = None
        self._event: ParsedEvent | None = None
        self._may_defer = False

    def handling(self, record: InboundRecord, event: ParsedEvent, *, may_defer: bool) -> None:
        self._record = record
        self._event = event
        self._may_defer = may_defer

    @property
    def fact_time(self) -> datetime:
        """The business time (CloudEvents ``time``) of the input being handled: when a
        fact that arrives late became known, e.g. a retroactive policy's publication."""
        assert self._event is not None, "no input is being handled"
        return self._event.envelope.time

    def defer_unless_overdue(self, reason: str) -> None:
        """Wait for a fact that may arrive on another topic (order across topics).

        Raises :class:`DeferredError` while the record's grace period lasts; afterwards
        it returns and the handler decides with what it knows.
        """
        if self._may_defer and self._record is not None:
            raise DeferredError(self._record, reason)

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

    def get_or_add(self, kind: type[A], aggregate_id: UUID, create: Callable[[], A]) -> A:
        """The aggregate, or a new one from ``create`` included in this batch."""
        aggregate = self.get(kind, aggregate_id)
        if aggregate is None:
            aggregate = create()
            self.add(aggregate)
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        """Include a new aggregate in this batch."""
        self._aggregates[aggregate.id] = aggregate

    def aggregates(self) -> Iterable[Aggregate]:
        return self._aggregates.values()

    @contextlib.contextmanager
    def forgotten_on_failure(self) -> Iterator[None]:
        """The application's cached aggregates are shared, not copied: when applying or
        storing the batch fails, the ones it read, which it may have changed in memory, are
        evicted from the cache, to be read again as stored."""
        try:
            yield
        except BaseException:
            self._app.forget(self._aggregates)
            raise

    @property
    def app(self) -> ServiceApplication:
        """The application, for queries over its stored events (e.g. the notification log)."""
        return self._app


#: A use case for one input event, given its typed payload (the command). It may return
#: what it did (e.g. a new policy); the processor ignores that.
Handler = Callable[[UnitOfWork, M], object]
#: The aggregates a handler is about to read for a payload: a batch's are read in one query
#: before its records are applied (``ServiceApplication.prefetch``). Only a speed-up: a
#: handler may read others, which are then read one by one.
Reads = Callable[[M], Iterable[UUID]]


@dataclass(frozen=True)
class Route:
    """Where one kind of input goes: its handler, and what the handler reads."""

    handler: Handler[Any]
    reads: Reads[Any] | None


class Inbound:
    """A service's inbound side: for each input event, keyed by its payload model (the
    typed command), the handler it goes to and the aggregates that handler reads. The
    service reads the contract topics these events arrive on, and nothing else."""

    def __init__(self) -> None:
        self._routes: dict[type[BaseModel], Route] = {}

    def on(self, model: type[M], handler: Handler[M], *,
           reads: Reads[M] | None = None) -> Inbound:
        """Send every input event whose payload is a ``model`` to ``handler``."""
        if model in self._routes:
            raise ValueError(f"{model.__name__} already has a handler")
        spec_of(model)  # a payload of the contract, or KeyError
        self._routes[model] = Route(handler, reads)
        return self

    def route(self, data: BaseModel) -> Route | None:
        return self._routes.get(type(data))

    @property
    def topics(self) -> tuple[str, ...]:
        """The contract topics the handled events arrive on, in the order first handled."""
        return tuple(dict.fromkeys(spec_of(model).topic for model in self._routes))


def _always(record: InboundRecord) -> bool:
    return True


@dataclass(frozen=True)
class Processed:
    """How many records a batch applied, and the record it stopped at to wait, if any."""

    applied: int
    deferred: InboundRecord | None = None


class BatchAbortedError(Exception):
    """A handler raised on one record; the batch is re-run without that record's effects."""

    def __init__(self, record: InboundRecord, cause: Exception) -> None:
        super().__init__(f"{record.topic}:{record.partition} offset {record.offset}: {cause!r}")
        self.record = record
        self.cause = cause


class InboundProcessor:
    """Applies batches of one service's input records to its application."""

    def __init__(
        self,
        app: ServiceApplication,
        inbound: Inbound,
        logical_topic: Callable[[str], str],
        tracking_prefix: str,
        on_recorded: Callable[[Sequence[Recording[UUID]]], None] | None = None,
    ) -> None:
        self.app = app
        self.inbound = inbound
        self.logical_topic = logical_topic
        self.tracking_prefix = tracking_prefix
        #: given every poll's new events once committed, with their positions (the outbox)
        self.on_recorded = on_recorded

    def tracking_name(self, topic: str, partition: int) -> str:
        return f"{self.tracking_prefix}{topic}:{partition}"

    def next_offset(self, topic: str, partition: int) -> int | None:
        """Where reading this partition resumes: the stored position, if any."""
        return self.app.position(self.tracking_name(topic, partition))

    def process(
        self, records: Sequence[InboundRecord], overdue: Callable[[InboundRecord], bool] = _always
    ) -> Processed:
        """Apply records of one partition (in offset order): :meth:`process_poll`."""
        if not records:
            return Processed(0)
        return self.process_poll(records, overdue)[records[0].partition_of]

    def process_poll(
        self, records: Sequence[InboundRecord], overdue: Callable[[InboundRecord], bool] = _always
    ) -> dict[Partition, Processed]:
        """Apply a poll's records (each partition's in offset order) in one transaction,
        with the new position of each partition; what was done, by partition.

        A record whose handler defers (:meth:`UnitOfWork.defer_unless_overdue`) while
        ``overdue(record)`` is false ends its partition's part of the poll: the records
        before it are stored, and it is returned as ``deferred``, to be read again. The
        other partitions go on.
        """
        polled: dict[Partition, list[InboundRecord]] = {}
        for record in records:
            polled.setdefault(record.partition_of, []).append(record)
        poisoned: dict[tuple[str, int, int], Exception] = {}
        deferred: dict[Partition, InboundRecord] = {}
        fresh: dict[Partition, list[InboundRecord]] = {}
        conflicts = 0
        while True:
            self.app.refresh()
            fresh = self._fresh(polled, deferred)
            if not fresh:
                break
            unit = UnitOfWork(self.app)
            try:
                with unit.forgotten_on_failure():
                    self._apply_all(unit, [r for part in fresh.values() for r in part],
                                    poisoned, overdue)
                    recordings = self.app.record(unit.aggregates(), *(
                        Tracking(self.tracking_name(*key), part[-1].offset + 1)
                        for key, part in fresh.items()))
            except BatchAbortedError as aborted:
                failed = aborted.record
                poisoned[failed.topic, failed.partition, failed.offset] = aborted.cause
                continue
            except DeferredError as wait:
                deferred[wait.record.partition_of] = wait.record
                log.info("record deferred", extra={"topic": wait.record.topic,
                                                   "partition": wait.record.partition,
                                                   "offset": wait.record.offset,
                                                   "reason": wait.reason})
                continue
            except IntegrityError:
                conflicts += 1
                if conflicts == MAX_COMMIT_ATTEMPTS:
                    raise RuntimeError(
                        f"could not commit a poll of {', '.join(f'{t}:{p}' for t, p in polled)}"
                        f" after {MAX_COMMIT_ATTEMPTS} attempts") from None
                log.info(
                    "poll already applied in part by another consumer; re-reading",
                    extra={"partitions": [f"{t}:{p}" for t, p in fresh], "attempt": conflicts},
                )
                continue
            if recordings and self.on_recorded is not None:
                self.on_recorded(recordings)
            break
        return {key: Processed(len(fresh.get(key, ())), deferred.get(key)) for key in polled}

    def _fresh(self, polled: Mapping[Partition, Sequence[InboundRecord]],
               deferred: Mapping[Partition, InboundRecord]) -> dict[Partition,
                                                                    list[InboundRecord]]:
        """Each partition's records not stored yet, up to its deferred record if any."""
        fresh = {}
        stored = self.app.positions([self.tracking_name(*key) for key in polled])
        for key, part in polled.items():
            start = stored.get(self.tracking_name(*key), 0)
            stop = deferred[key].offset if key in deferred else None
            records = [r for r in part if r.offset >= start and (stop is None or r.offset < stop)]
            if records:
                fresh[key] = records
        return fresh

    def _apply_all(
        self,
        unit: UnitOfWork,
        records: Sequence[InboundRecord],
        poisoned: Mapping[tuple[str, int, int], Exception],
        overdue: Callable[[InboundRecord], bool],
    ) -> None:
        parsed = [self._parse(record) for record in records]
        self._prefetch(event for event in parsed if isinstance(event, ParsedEvent))
        for record, event in zip(records, parsed, strict=True):
            cause = poisoned.get((record.topic, record.partition, record.offset))
            if cause is not None:
                self._reject(unit, record, cause.error if isinstance(cause, BadInput) else
                             f"processing failed: {type(cause).__name__}: {cause}")
                continue
            if isinstance(event, BadInput):
                self._reject(unit, record, event.error)
                continue
            route = self.inbound.route(event.data)
            if route is None:
                continue
            unit.handling(record, event, may_defer=not overdue(record))
            try:
                route.handler(unit, event.data)
            except DeferredError:
                raise
            except BadInput as bad:  # e.g. a reference to an unknown registration
                raise BatchAbortedError(record, bad) from bad
            except Exception as exc:
                log.exception(
                    "handler failed; the record goes to the dead-letter topic",
                    extra={"topic": record.topic, "partition": record.partition,
                           "offset": record.offset, "event": event.name},
                )
                raise BatchAbortedError(record, exc) from exc

    def _parse(self, record: InboundRecord) -> ParsedEvent | BadInput:
        try:
            return parse_event(record.value, self.logical_topic(record.topic))
        except BadInput as bad:
            return bad

    def _prefetch(self, events: Iterable[ParsedEvent]) -> None:
        ids: list[UUID] = []
        for event in events:
            route = self.inbound.route(event.data)
            if route is not None and route.reads is not None:
                with contextlib.suppress(Exception):  # bad data: its handler will say so
                    ids.extend(route.reads(event.data))
        if ids:
            self.app.prefetch(ids)

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
