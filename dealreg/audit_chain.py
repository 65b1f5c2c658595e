"""The hash chain over each application's stored events: the definition auditors re-check.

``hash(n) = SHA-256(hash(n-1) ‖ canonical(n))`` where ``hash(0)`` is 32 zero bytes and
``canonical(n)`` is, for the n-th stored event of the application in notification order:

* its notification id (position), 8 bytes big-endian signed;
* its originator (aggregate) id, the 16 bytes of the UUID;
* its originator version, 8 bytes big-endian signed;
* the length of its topic (event type) in UTF-8 bytes, 4 bytes big-endian, then the topic;
* its stored state, exactly as stored (compressed or encrypted bytes when so configured).

The PostgreSQL trigger in :mod:`dealreg.recorders` computes the same bytes in SQL.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Protocol
from uuid import UUID

GENESIS = bytes(32)


class StoredEventLike(Protocol):
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


def canonical(notification_id: int, event: StoredEventLike) -> bytes:
    originator = event.originator_id
    originator_bytes = (originator if isinstance(originator, UUID) else UUID(originator)).bytes
    topic = event.topic.encode()
    return b"".join((
        notification_id.to_bytes(8, "big", signed=True),
        originator_bytes,
        event.originator_version.to_bytes(8, "big", signed=True),
        len(topic).to_bytes(4, "big"),
        topic,
        bytes(event.state),
    ))


def link(previous: bytes, notification_id: int, event: StoredEventLike) -> bytes:
    """The hash of the event at ``notification_id`` chained to ``previous``."""
    return sha256(previous + canonical(notification_id, event)).digest()
