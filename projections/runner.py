"""Keeping read models up to date from the services' notification logs.

A projection names the services it reads and the event classes it cares about; the runner
reads each source log in pages after the stored position, loads the documents the page
touches, lets the projection apply the events in log order, and stores the documents with
the new position in one transaction (every projection's page of a log in the same one). The
documents last stored stay in memory for the next pages, and a projection that had none
when the catch-up started (a rebuild) reads from the store only those it stored since.
Rebuild = forget the documents, then catch up from the first event. Each document field is
fed by one source only, so the interleaving of sources does not change the result: a
rebuild gives exactly what the incremental run gave.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from eventsourcing.persistence import Notification

from dealreg.collector import collect_less_often
from dealreg.eventstore import ServiceApplication, stored_topics
from dealreg.projections.store import Document, ReadStore, encoded

log = logging.getLogger(__name__)

PAGE = 5_000
#: documents of each projection kept in memory during a catch-up, the last stored (enough
#: for a registration's decision to find its submission's documents there)
CACHED = 10_000


class Projection(Protocol):
    name: str
    #: service name → the domain event classes read from its log
    sources: Mapping[str, tuple[type, ...]]

    def keys(self, service: str, event: Any) -> Iterable[str]:
        """The documents ``event`` changes."""

    def apply(self, docs: dict[str, Document], service: str, event: Any) -> None:
        """Change ``docs`` (every key of :meth:`keys` is present, ``{}`` when new)."""


@dataclass(frozen=True)
class Lag:
    projection: str
    source: str
    position: int
    head: int

    @property
    def behind(self) -> int:
        return max(self.head - self.position, 0)


Progress = Callable[[str, int, int], None]


class Writer:
    """Stores pages in a thread, one at a time and in order, while the caller applies the
    next one; a read from the store first waits for the page being stored."""

    def __init__(self, store: ReadStore, thread: ThreadPoolExecutor) -> None:
        self.store = store
        self.thread = thread
        self.pending: tuple[Future[None], Callable[[], None]] | None = None

    def save(self, source: str, position: int, changes: Mapping[str, Mapping[str, Document]],
             then: Callable[[], None]) -> None:
        """Store ``changes`` after the page before, then call ``then``; the documents are
        encoded here, so the caller may change them as soon as this returns."""
        encoded_changes = {name: {key: encoded(doc) for key, doc in docs.items()}
                           for name, docs in changes.items()}
        self.wait()
        self.pending = (self.thread.submit(self.store.save, source, position, encoded_changes),
                        then)

    def wait(self) -> None:
        """Until the page being stored is stored (raises what storing it raised)."""
        if self.pending is not None:
            (stored, then), self.pending = self.pending, None
            stored.result()
            then()

    def load(self, projection: str, keys: Iterable[str]) -> dict[str, Document]:
        """The stored documents of ``keys``, once the page being stored is."""
        self.wait()
        return self.store.load(projection, keys)


@dataclass
class DocumentCache:
    """One projection's documents during a catch-up: the last ``CACHED`` stored, and when
    the store held none at the start (``stored`` not None), the key of every one stored
    since; any other document is read from the store."""

    writer: Writer
    projection: str
    stored: set[str] | None
    recent: dict[str, Document] = field(default_factory=dict)

    def load(self, keys: Iterable[str]) -> dict[str, Document]:
        """The documents of ``keys``, ``{}`` for those not stored yet."""
        docs: dict[str, Document] = {}
        unknown = []
        for key in dict.fromkeys(keys):
            doc = self.recent.get(key)
            if doc is not None:
                docs[key] = doc
            elif self.stored is None or key in self.stored:
                unknown.append(key)
            else:
                docs[key] = {}
        if unknown:
            found = self.writer.load(self.projection, unknown)
            docs.update((key, found.get(key, {})) for key in unknown)
        return docs

    def saved(self, docs: dict[str, Document]) -> None:
        """``docs`` are stored (or being stored: a read from the store waits for them): kept
        for the next pages, the least recently stored forgotten beyond ``CACHED``."""
        recent = self.recent
        for key, doc in docs.items():
            recent.pop(key, None)
            recent[key] = doc
        for key in list(itertools.islice(recent, max(len(recent) - CACHED, 0))):
            del recent[key]
        if self.stored is not None:
            self.stored.update(docs)


@dataclass
class Projector:
    store: ReadStore
    apps: Mapping[str, ServiceApplication]

    def status(self, projections: Sequence[Projection]) -> list[Lag]:
        lags = []
        for projection in projections:
            positions = self.store.positions(projection.name)
            for source in projection.sources:
                head = self.apps[source].recorder.max_notification_id() or 0
                lags.append(Lag(projection.name, source, positions.get(source, 0), head))
        return lags

    def catch_up(self, projections: Sequence[Projection],
                 progress: Progress | None = None) -> dict[str, int]:
        """Apply every event recorded so far; the number of events applied, by projection.

        Each source log is read once for all ``projections`` (from the earliest of their
        positions), and each event decoded once; a page is stored while the next is applied
        (:class:`Writer`), and ``progress`` is told of it once stored."""
        applied = {projection.name: 0 for projection in projections}
        positions = {projection.name: self.store.positions(projection.name)
                     for projection in projections}
        plans = []
        for source in dict.fromkeys(s for projection in projections for s in projection.sources):
            head = self.apps[source].recorder.max_notification_id() or 0
            readers = [(projection, positions[projection.name].get(source, 0))
                       for projection in projections if source in projection.sources]
            behind = [(projection, start) for projection, start in readers if start < head]
            if behind:
                plans.append((source, head, behind))
        total = sum(head - min(start for _, start in behind) for _, head, behind in plans)
        label = projections[0].name if len(projections) == 1 else "projections"
        done = 0

        def stored(read: int) -> Callable[[], None]:
            def report() -> None:
                nonlocal done
                done += read
                if progress is not None:
                    progress(label, done, total)
            return report

        with ThreadPoolExecutor(1, thread_name_prefix="read-model-writer") as thread:
            writer = Writer(self.store, thread)
            caches = {name: DocumentCache(writer, name, None if positions[name] else set())
                      for name in positions}
            for source, head, behind in plans:
                app = self.apps[source]
                topics = {projection.name: set(stored_topics(*projection.sources[source]))
                          for projection, _ in behind}
                wanted = sorted(set().union(*topics.values()))
                position = min(start for _, start in behind)
                for page, reached in _pages(app, position, head, wanted):
                    decoded = [(notification.id, notification.topic,
                                app.mapper.to_domain_event(notification))
                               for notification in page]
                    changes = {}
                    for projection, start in behind:
                        if reached <= start:
                            continue
                        mine = topics[projection.name]
                        events = [event for notification_id, topic, event in decoded
                                  if notification_id > start and topic in mine]
                        changes[projection.name] = _apply(caches[projection.name], projection,
                                                          source, events)
                        applied[projection.name] += len(events)
                    writer.save(source, reached, changes, stored(reached - position))
                    for name, docs in changes.items():
                        caches[name].saved(docs)
                    position = reached
            writer.wait()
        return applied

    def rebuild(self, projections: Sequence[Projection],
                progress: Progress | None = None) -> dict[str, int]:
        """Forget ``projections`` and apply the whole history to them again.

        The cyclic garbage collector is paused meanwhile: a rebuild makes next to no cycles,
        and the collector's passes over everything alive (the modules, the cached documents)
        took a sixth of its CPU time."""
        for projection in projections:
            self.store.reset(projection.name)
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self.catch_up(projections, progress)
        finally:
            if collecting:
                gc.enable()

    async def follow(self, projections: Sequence[Projection], stop: asyncio.Event,
                     interval_s: float = 0.5) -> None:
        """Catch up every ``interval_s`` until ``stop`` is set."""
        collect_less_often()
        while not stop.is_set():
            try:
                applied = await asyncio.to_thread(self.catch_up, projections)
            except Exception:  # a store unreachable for a while: retry, never stop
                log.exception("projections update failed, retrying")
            else:
                for name, events in applied.items():
                    if events:
                        log.debug("projection updated",
                                  extra={"projection": name, "events": events})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)


def _apply(cache: DocumentCache, projection: Projection, source: str,
           events: list[Any]) -> dict[str, Document]:
    """The documents ``events`` change, changed."""
    touched = [list(projection.keys(source, event)) for event in events]
    docs = cache.load(key for keys in touched for key in keys)
    for event in events:
        projection.apply(docs, source, event)
    return docs


def _pages(app: ServiceApplication, start: int, head: int, topics: Sequence[str]) -> Iterator[
        tuple[Sequence[Notification], int]]:
    """The notifications of ``topics`` in (``start``, ``head``], a page for each ``PAGE``
    positions, each with the position it reaches; the next page is read in a thread while
    the caller works on this one.

    Each page is a range of the log's index bounded on both sides, filtered on the topic in
    SQL: its cost does not grow with the log (a filter on the topic with only a ``LIMIT``
    scanned on past the range, and slowed down as the log grew), and the events no
    projection reads are neither sent nor built into notifications."""

    def read(after: int) -> Sequence[Notification]:
        return app.recorder.select_notifications(start=after, stop=min(after + PAGE, head),
                                                 limit=PAGE, topics=topics,
                                                 inclusive_of_start=False)

    with ThreadPoolExecutor(1, thread_name_prefix="log-reader") as reader:
        position, pending = start, reader.submit(read, start)
        while position < head:
            page = pending.result()
            reached = min(position + PAGE, head)
            if reached < head:
                pending = reader.submit(read, reached)
            yield page, reached
            position = reached


def progress_bar(stream: TextIO = sys.stderr, width: int = 30) -> Progress:
    """A one-line progress bar redrawn in place (at most ten times a second)."""
    last = [0.0]

    def show(name: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.1:
            return
        last[0] = now
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        stream.write(f"\r{name:<16} [{'#' * filled}{'.' * (width - filled)}] {percent:3d}% "
                     f"{done}/{total} positions")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show
