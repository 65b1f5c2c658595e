"""Event-store wiring: one ``eventsourcing`` application per service, with its own tables.

SQLite by default (one file per service under ``DEALREG_DATA_DIR``), PostgreSQL when
``DEALREG_DATABASE_URL`` is a ``postgresql://`` URL (one schema per service, created
here because eventsourcing does not create it).

Every application uses a *process recorder*, which stores a tracking record in the same
transaction as the new events: the Kafka position of the input that caused them
(``dealreg.consumer``) or the outbox position (``dealreg.outbox``). With single-row
tracking, a position that is not greater than the stored one is refused with
``IntegrityError`` and the whole transaction rolls back: the duplicate guard.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    PersistenceError,
    ProcessRecorder,
    Recording,
    Tracking,
    Transcoding,
)
from eventsourcing.utils import get_topic, register_topic

from dealreg.recorders import ChainedPostgresProcessRecorder, ChainedRecorder
from dealreg.settings import Settings, SettingsError

REFRESH_PAGE = 5_000
#: The failures of an event store, whichever reports them.
STORE_ERRORS = (PersistenceError, psycopg.Error, sqlite3.Error)

#: Packages that moved: their current name -> the name their stored topics may still have.
_FORMER_NAMES: dict[str, str] = {}


def moved_package(former_name: str, package: ModuleType) -> None:
    """Events stored while ``package`` was named ``former_name`` keep loading: their topics
    (``<module>:<class>``, written into every stored event) resolve to the classes under the
    package's current name, and :func:`stored_topics` finds them."""
    register_topic(former_name, package)
    _FORMER_NAMES[package.__name__] = former_name


def stored_topics(*kinds: type) -> list[str]:
    """Every topic under which events of ``kinds`` may be stored: the current one, and the
    same class under each former name of its package (:func:`moved_package`)."""
    topics = []
    for kind in kinds:
        topic = get_topic(kind)
        topics.append(topic)
        topics.extend(former + topic[len(current):] for current, former in _FORMER_NAMES.items()
                      if topic.startswith(f"{current}."))
    return topics


class DateAsISO(Transcoding):
    """Stores ``datetime.date`` values (e.g. an expected close date) as ``YYYY-MM-DD``."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ServiceApplication(Application[UUID]):
    """An eventsourcing application that records tracking with its events.

    Aggregates are cached in memory (``DEALREG_AGGREGATE_CACHE_SIZE``), and the ids of all
    stored aggregates are known, so that a batch reads the database only for an aggregate
    that exists and is not cached: asking for a new registration's id costs nothing. Both
    are made current with everything stored since, by any process, at the start of every
    batch (:meth:`refresh`: one query over the new part of the notification log); a write
    based on what another process changed meanwhile fails on its version like any
    concurrent write, and is retried after a refresh. Cached aggregates are shared, not
    copied at every read: whatever fails to store what it changed evicts it (:meth:`record`,
    ``UnitOfWork.forgotten_on_failure``), and a thread beside the consumer's reads
    :meth:`stored` instead.
    """

    recorder: ProcessRecorder

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self._refreshed = 0
        self._known: set[UUID] | None = None  # read at the first lookup, not at start-up

    def _known_ids(self) -> set[UUID] | None:
        """The id of every stored aggregate, when the cache is on (read once, then kept
        current by :meth:`refresh` and :meth:`record`)."""
        recorder = self.recorder
        if (self._known is None and self.repository.cache is not None
                and isinstance(recorder, ChainedRecorder)):
            self._refreshed = recorder.max_notification_id() or 0
            self._known = set(recorder.select_aggregate_ids())
            # What was cached before (aggregates saved here) is not covered by refresh.
            # (LRUCache.clear() only resets its recency list, so each key is evicted.)
            self.forget(list(self.repository.cache.cache))
        return self._known

    def refresh(self) -> None:
        """Learn the aggregates created, and forget the cached ones changed, since the last
        refresh, by this process or another."""
        cache, known, recorder = self.repository.cache, self._known, self.recorder
        if cache is None or known is None or not isinstance(recorder, ChainedRecorder):
            return  # nothing read yet: nothing to make current
        head = recorder.max_notification_id() or 0
        while self._refreshed < head:
            page = recorder.select_changes(self._refreshed, head, REFRESH_PAGE)
            if not page:
                break
            for _, originator, version in page:
                known.add(originator)
                with contextlib.suppress(KeyError):
                    if cache.get(originator).version < version:
                        cache.get(originator, evict=True)
            self._refreshed = page[-1][0]

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> int:
        """Read into the cache, in one query, the stored aggregates among ``aggregate_ids``
        that it does not hold: what a batch is about to read, instead of one round trip
        for each. Returns how many were read."""
        cache, known, recorder = self.repository.cache, self._known_ids(), self.recorder
        if cache is None or known is None or not isinstance(recorder, ChainedRecorder):
            return 0
        missing = [aggregate_id for aggregate_id in set(aggregate_ids)
                   if aggregate_id in known and aggregate_id not in cache.cache]
        if not missing:
            return 0
        events: dict[UUID, list[Any]] = {}
        for stored in recorder.select_events_of(missing):
            assert isinstance(stored.originator_id, UUID)
            events.setdefault(stored.originator_id, []).append(
                self.mapper.to_domain_event(stored))
        for aggregate_id, history in events.items():
            aggregate = project_aggregate(None, history)
            if aggregate is not None:
                cache.put(aggregate_id, aggregate)
        return len(events)

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """Evict aggregates from the cache (changed in memory by a batch that failed)."""
        cache = self.repository.cache
        if cache is not None:
            for aggregate_id in aggregate_ids:
                with contextlib.suppress(KeyError):
                    cache.get(aggregate_id, evict=True)

    def stored(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored now, read from the store, never shared with the cache
        (for a thread beside the consumer's, e.g. the expiry scheduler); None if absent."""
        return project_aggregate(None, self.events.get(aggregate_id))

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def record(
        self, aggregates: Iterable[Aggregate], *trackings: Tracking
    ) -> list[Recording[UUID]]:
        """Store the pending events of ``aggregates`` and every one of ``trackings`` in one
        transaction (a poll's positions, one per partition). If that fails, the aggregates,
        which may be the cached ones, are evicted. Returns the new events as recorded, with
        their positions in the notification log."""
        first, *others = trackings  # several need dealreg's recorders (ChainedRecorder)
        aggregates = list(aggregates)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent(tracking=first)
        if others:
            processing_event.saved_kwargs["trackings"] = others
        # What ProcessingEvent.collect_events does, for the changed aggregates only and
        # without its isinstance checks against runtime-checkable protocols (each walks the
        # protocol's attributes: a tenth of a batch's CPU when most aggregates were only read).
        for aggregate in aggregates:
            if aggregate.pending_events:
                processing_event.events.extend(aggregate.collect_events())
                processing_event.aggregates[aggregate.id] = aggregate
        if not processing_event.events:
            if others:
                assert isinstance(self.recorder, ChainedRecorder)
                self.recorder.insert_trackings(trackings)
            else:
                self.recorder.insert_tracking(first)
            return []
        try:
            recordings = self._record(processing_event)
        except BaseException:
            self.forget(aggregate.id for aggregate in aggregates)
            raise
        if self._known is not None:
            self._known.update(processing_event.aggregates)
            self._skip_own(recordings)
        return recordings

    def _skip_own(self, recordings: Sequence[Recording[UUID]]) -> None:
        """Move the refresh past what this process just stored, when it directly follows
        what was refreshed: the cache and the known ids hold it already, so the next
        refresh need not read it back. Anything else stored meanwhile leaves a gap (or
        stands in the range), and the next refresh reads the whole range as before."""
        positions = [recording.notification.id for recording in recordings]
        first, last = min(positions), max(positions)
        if first == self._refreshed + 1 and last - first + 1 == len(positions):
            self._refreshed = last

    def record_publication(self, tracking: Tracking) -> None:
        """Store the outbox's position. Losing it only makes the outbox publish the events
        after the position it had again, with the same ids (consumers recognise them), so on
        PostgreSQL its commit does not wait for the disk: a later commit of the service, or
        the WAL writer within a fraction of a second, makes it durable."""
        recorder = self.recorder
        if isinstance(recorder, ChainedPostgresProcessRecorder):
            recorder.insert_tracking_unflushed(tracking)
        else:
            recorder.insert_tracking(tracking)

    def position(self, tracking_name: str) -> int | None:
        """The stored position for ``tracking_name`` (the next offset to read), if any."""
        return self.recorder.max_tracking_id(tracking_name)

    def positions(self, tracking_names: Sequence[str]) -> dict[str, int]:
        """The stored positions of those of ``tracking_names`` that have one."""
        recorder = self.recorder
        if isinstance(recorder, ChainedRecorder):
            return recorder.select_positions(tracking_names)
        found = {name: recorder.max_tracking_id(name) for name in tracking_names}  # in memory
        return {name: position for name, position in found.items() if position is not None}

    def stored_events(self, *kinds: type) -> Iterator[Any]:
        """Every stored event of the given classes, in the order they were recorded (a read
        of the notification log from the start: for tools and rare facts, not hot paths)."""
        topics = stored_topics(*kinds)
        position = 0
        while True:
            batch = self.recorder.select_notifications(
                start=position, limit=1000, topics=topics, inclusive_of_start=False)
            if not batch:
                return
            for notification in batch:
                yield self.mapper.to_domain_event(notification)
            position = batch[-1].id

    def get_or_none(self, aggregate_id: UUID) -> Any:
        """The aggregate, through the cache, or None: for the consumer's batches only. The
        known ids and the cache are not guarded against a second thread (the first lookup
        of one can overwrite the ids the other just recorded); anything beside a running
        consumer reads :meth:`stored`."""
        known = self._known_ids()
        if known is not None and aggregate_id not in known:
            return None
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


def application_env(settings: Settings, service: str) -> dict[str, str]:
    """The eventsourcing environment for ``service``'s application."""
    return _store_env(settings, service) | _cipher_env(settings) | _cache_env(settings)


def _cache_env(settings: Settings) -> dict[str, str]:
    if not settings.aggregate_cache_size:
        return {}
    return {"AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
            "AGGREGATE_CACHE_FASTFORWARD": "n",  # made current by ServiceApplication.refresh
            # Shared, not copied at every read: a failed batch evicts what it read
            # (UnitOfWork.forgotten_on_failure).
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}


def _recorder_env(settings: Settings, backend: str) -> dict[str, str]:
    """Hash-chained, append-only recorders (``dealreg.recorders``); tables are created at
    start unless ``DEALREG_CREATE_TABLES=false`` (a service role set up by ``db init``)."""
    return {"PROCESS_RECORDER_TOPIC": f"dealreg.recorders:Chained{backend}ProcessRecorder",
            "CREATE_TABLE": "y" if settings.create_tables else "n"}


def _cipher_env(settings: Settings) -> dict[str, str]:
    """Stored event state encrypted with AES-GCM when ``DEALREG_CIPHER_KEY`` is set, so that
    personal data (contact names and e-mails) never rests in clear text."""
    if not settings.cipher_key:
        return {}
    return {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
            "CIPHER_KEY": settings.cipher_key}


def _store_env(settings: Settings, service: str) -> dict[str, str]:
    if not settings.uses_postgres:
        if settings.create_tables:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.data_dir / f"{service}.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "30",
        } | _recorder_env(settings, "SQLite")
    params = postgres_params(settings.database_url)
    schema = schema_name(settings, service)
    if settings.create_tables:
        ensure_schema(settings.database_url, schema)
    return _recorder_env(settings, "Postgres") | {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": params["dbname"],
        "POSTGRES_HOST": params["host"],
        "POSTGRES_PORT": params["port"],
        "POSTGRES_USER": params["user"],
        "POSTGRES_PASSWORD": params["password"],
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_PRE_PING": "n",  # a broken connection fails and is retried instead
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
    }


def schema_name(settings: Settings, service: str) -> str:
    return f"{settings.db_schema_prefix}{service}"


def postgres_params(url: str) -> dict[str, str]:
    """Connection parameters from a ``postgresql://user:password@host:port/dbname`` URL."""
    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    if not dbname:
        raise SettingsError("DEALREG_DATABASE_URL must name a database: postgresql://…/DBNAME")
    return {
        "dbname": unquote(dbname),
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
    }


def ensure_schema(url: str, schema: str) -> None:
    """Create ``schema`` if it does not exist (eventsourcing expects it to). Another process
    creating it at the same moment makes the catalog refuse this one: it exists, then."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(url, autocommit=True) as conn, contextlib.suppress(
            errors.UniqueViolation):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
