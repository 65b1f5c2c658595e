"""Auditors' tools over the three services' event stores: the history of one business id,
verification of every hash chain, and an export auditors can re-verify on their own.

All three read the stores directly (a full read of each notification log), never Kafka.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from dealreg.audit_chain import GENESIS, link
from dealreg.events.schemas.values import format_utc
from dealreg.eventstore import ServiceApplication
from dealreg.recorders import ChainedRecorder

PAGE = 1_000
#: Personal data kept out of exports (it stays encrypted in the store when a cipher is set).
PERSONAL_FIELDS = frozenset({"contact_name", "contact_email"})


@dataclass(frozen=True)
class ChainedEvent:
    """One stored event and the hash recorded for it (``None`` on either side when missing)."""

    application: str
    position: int
    notification: Notification | None
    hash: bytes | None


@dataclass(frozen=True)
class ChainReport:
    application: str
    events: int
    head: str
    problem: str | None


def chained_log(application: str, app: ServiceApplication) -> Iterator[ChainedEvent]:
    """Every stored event of ``app`` in position order, merged with the hashes table."""
    recorder = app.recorder
    if not isinstance(recorder, ChainedRecorder):
        raise TypeError(f"{application}: the store has no hash chain ({type(recorder)})")
    events = _pages(lambda after: {n.id: n for n in recorder.select_notifications(
        start=after, limit=PAGE, inclusive_of_start=False)})
    hashes = _pages(lambda after: dict(recorder.select_hashes(after, PAGE)))
    event, chained = next(events, None), next(hashes, None)
    while event is not None or chained is not None:
        position = min(item[0] for item in (event, chained) if item is not None)
        notification = event[1] if event is not None and event[0] == position else None
        hash_ = chained[1] if chained is not None and chained[0] == position else None
        yield ChainedEvent(application, position, notification, hash_)
        if notification is not None:
            event = next(events, None)
        if hash_ is not None:
            chained = next(hashes, None)


def _pages(read: Any) -> Iterator[tuple[int, Any]]:
    after = 0
    while page := read(after):
        yield from page.items()
        after = max(page)


def verify(application: str, app: ServiceApplication) -> ChainReport:
    """Walk the chain: the first event whose recorded hash does not follow is the problem."""
    previous, count = GENESIS, 0
    for entry in chained_log(application, app):
        problem = _problem(previous, entry)
        if problem is not None:
            return ChainReport(application, count, previous.hex(), problem)
        assert entry.hash is not None
        previous, count = entry.hash, count + 1
    return ChainReport(application, count, previous.hex(), None)


def _problem(previous: bytes, entry: ChainedEvent) -> str | None:
    where = f"{entry.application} position {entry.position}"
    if entry.notification is None:
        return f"{where}: event removed (its hash is recorded, the event is gone)"
    what = f"{where} ({_describe(entry.notification)})"
    if entry.hash is None:
        return f"{what}: no recorded hash (written around the chain)"
    if link(previous, entry.position, entry.notification) != entry.hash:
        return (f"{what}: does not match its recorded hash (the event was altered or moved, "
                "or the event before it was removed)")
    return None


def _describe(notification: Notification) -> str:
    kind = notification.topic.rpartition(":")[2]
    return f"{kind} of {notification.originator_id} v{notification.originator_version}"


def history(apps: Mapping[str, ServiceApplication], business_id: str) -> list[dict[str, Any]]:
    """Every stored event of every service that concerns ``business_id`` (a registration,
    deal, dispute or partner), ordered by the time it was recorded.

    An event concerns the id when it names it, or names a registration, dispute or deal
    that an event concerning the id names (a deal's history includes its registration's
    submission and decision, and the dispute over it), to a fixed point; every event of an
    aggregate whose creation concerns the id does too (a deal's refund). Each service's
    events keep their recorded order; the services' are merged by recording time.
    """
    wanted = {business_id}
    while True:
        found = _scan(apps, wanted)
        linked = wanted | {value for record in found for value in _links(record["data"])}
        if linked == wanted:
            return found
        wanted = linked


def _scan(apps: Mapping[str, ServiceApplication], wanted: set[str]) -> list[dict[str, Any]]:
    per_service = []
    for application, app in apps.items():
        found, owned = [], set()
        for entry in chained_log(application, app):
            notification = entry.notification
            if notification is None:
                continue
            data = event_data(app, notification)
            if notification.originator_id in owned or _mentions(data, wanted):
                if notification.originator_version == 1:
                    owned.add(notification.originator_id)
                found.append(_record(entry, data, personal=True))
        per_service.append(found)
    return list(heapq.merge(*per_service, key=_recorded_at))


def _recorded_at(record: Mapping[str, Any]) -> datetime:
    """When ``record`` was recorded (compared as instants: as text, ``…:00Z`` would come
    after ``…:00.5Z``)."""
    return datetime.fromisoformat(record["time"])


#: fields naming a registration, dispute or deal, followed by :func:`history`
LINKS = ("registration_id", "registration_ids", "approved_registration_id",
         "rejected_registration_ids", "dispute_id", "deal_id")


def _links(data: Mapping[str, Any]) -> Iterator[str]:
    for name in LINKS:
        value = data.get(name)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, str))


def export(apps: Mapping[str, ServiceApplication]) -> Iterator[dict[str, Any]]:
    """Every stored event with what re-verification needs; personal data left out."""
    previous: dict[str, bytes] = {}
    for application, app in apps.items():
        for entry in chained_log(application, app):
            if entry.notification is None:
                continue
            record = _record(entry, event_data(app, entry.notification), personal=False)
            record["previous_hash"] = previous.get(application, GENESIS).hex()
            previous[application] = entry.hash or b""
            yield record


def _record(entry: ChainedEvent, data: dict[str, Any], *, personal: bool) -> dict[str, Any]:
    assert entry.notification is not None
    notification = entry.notification
    shown = {key: value for key, value in data.items()
             if personal or key not in PERSONAL_FIELDS}
    return {
        "application": entry.application,
        "position": entry.position,
        "time": shown.pop("timestamp", None),
        "type": notification.topic.rpartition(":")[2],
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "topic": notification.topic,
        "state": base64.b64encode(notification.state).decode(),
        "hash": entry.hash.hex() if entry.hash is not None else None,
        "data": {key: value for key, value in shown.items()
                 if key not in ("originator_id", "originator_version")},
    }


#: What eventsourcing gives every event; the other attributes are what the business recorded.
METADATA = ("originator_id", "originator_version", "originator_topic", "timestamp")


def business_fields(event: Any) -> dict[str, Any]:
    """An event's attributes without eventsourcing's metadata (id, version, topic, time)."""
    return {key: value for key, value in vars(event).items() if key not in METADATA}


def event_data(app: ServiceApplication, notification: Notification) -> dict[str, Any]:
    """The decoded (and decrypted) attributes of a stored event, as JSON-ready values."""
    event = app.mapper.to_domain_event(notification)
    return {key: plain(value) for key, value in vars(event).items()}


#: the types whose values are already JSON-ready (exactly these: a ``str`` enum is not)
_AS_IS = frozenset({str, int, float, bool})


def plain(value: Any) -> Any:
    """A JSON-ready copy: money as decimal strings (never exponents), ids as strings, times
    in RFC 3339 UTC with ``Z`` as the contract writes them, dates as ``YYYY-MM-DD``."""
    if value is None or type(value) in _AS_IS:  # most values, at a tenth of the match's cost
        return value
    match value:
        case datetime() if value.tzinfo is not None:
            return format_utc(value)
        case datetime() | date():
            return value.isoformat()
        case Decimal():
            return format(value, "f")
        case UUID():
            return str(value)
        case Enum():
            return plain(value.value)
        case Mapping():
            return {str(key): plain(item) for key, item in value.items()}
        case list() | tuple() | set() | frozenset():
            return [plain(item) for item in value]
    return value


def _mentions(value: Any, wanted: set[str]) -> bool:
    if isinstance(value, str):
        return value in wanted
    if isinstance(value, Mapping):
        return any(_mentions(item, wanted) for item in value.values())
    if isinstance(value, Iterable):
        return any(_mentions(item, wanted) for item in value)
    return False
