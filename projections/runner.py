"""Keeping read models up to date from the services' notification logs.

A projection names the services it reads and the event classes it cares about; the runner
reads each source log in pages after the stored position, loads the documents the page
touches, lets the projection apply the events in log order, and stores the documents with
the new position in one transaction. Rebuild = forget the documents, then catch up from the
first event. Each document field is fed by one source only, so the interleaving of sources
does not change the result: a rebuild gives exactly what the incremental run gave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from eventsourcing.persistence import Notification

from dealreg.eventstore import ServiceApplication, stored_topics
from dealreg.projections.store import Document, ReadStore

log = logging.getLogger(__name__)

PAGE = 5_000


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
        positions), and each event decoded once."""
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
                for projection, start in behind:
                    if reached <= start:
                        continue
                    mine = topics[projection.name]
                    events = [event for notification_id, topic, event in decoded
                              if notification_id > start and topic in mine]
                    self._apply(projection, source, events, reached)
                    applied[projection.name] += len(events)
                done, position = done + reached - position, reached
                if progress is not None:
                    progress(label, done, total)
        return applied

    def _apply(self, projection: Projection, source: str, events: list[Any],
               position: int) -> None:
        touched = [list(projection.keys(source, event)) for event in events]
        docs = self.store.load(projection.name, (key for keys in touched for key in keys))
        for event, keys in zip(events, touched, strict=True):
            for key in keys:
                docs.setdefault(key, {})
            projection.apply(docs, source, event)
        self.store.save(projection.name, docs, source, position)

    def rebuild(self, projections: Sequence[Projection],
                progress: Progress | None = None) -> dict[str, int]:
        """Forget ``projections`` and apply the whole history to them again."""
        for projection in projections:
            self.store.reset(projection.name)
        return self.catch_up(projections, progress)

    async def follow(self, projections: Sequence[Projection], stop: asyncio.Event,
                     interval_s: float = 0.5) -> None:
        """Catch up every ``interval_s`` until ``stop`` is set."""
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
