"""Bad input, recorded in the event store and published to ``dealreg.dlq.v1``
(docs/contract.md §7)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dealreg.events.schemas.outputs import MessageRejected
from dealreg.identity import business_id
from dealreg.outbox import Emission

Encoding = Literal["utf-8", "base64"]

#: A dead letter must fit in a Kafka message (1 MiB by default) with its envelope, even
#: when the rejected value was too large itself.
MAX_ORIGINAL_BYTES = 256 * 1024


def text_or_base64(raw: bytes | None) -> tuple[str | None, Encoding]:
    """``raw`` as UTF-8 text when it is valid UTF-8, else as base64; with the encoding used."""
    if raw is None:
        return None, "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


class RejectedMessage(Aggregate):
    """A Kafka record that was bad input; one per (topic, partition, offset)."""

    class Rejected(Aggregate.Created):
        topic: str
        partition: int
        offset: int
        key: str | None
        original: str | None
        original_encoding: Encoding
        error: str
        timestamp_ms: int

    @staticmethod
    def create_id(topic: str, partition: int, offset: int, **_: object) -> UUID:
        return business_id("rejected-message", f"{topic}:{partition}:{offset}")

    @event(Rejected)
    def __init__(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: str | None,
        original: str | None,
        original_encoding: Encoding,
        error: str,
        timestamp_ms: int,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.original = original
        self.original_encoding = original_encoding
        self.error = error
        self.timestamp_ms = timestamp_ms

    @classmethod
    def of_record(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        error: str,
        timestamp_ms: int,
    ) -> RejectedMessage:
        key_text, _ = text_or_base64(key)
        if value is not None and len(value) > MAX_ORIGINAL_BYTES:
            error = f"{error} (original truncated to its first {MAX_ORIGINAL_BYTES} bytes)"
            value = value[:MAX_ORIGINAL_BYTES]
        original, encoding = text_or_base64(value)
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key_text,
            original=original,
            original_encoding=encoding,
            error=error,
            timestamp_ms=timestamp_ms,
        )


def dead_letter(rejected: RejectedMessage.Rejected) -> Emission:
    """The ``message.rejected`` event on ``dealreg.dlq.v1`` for a recorded rejection."""
    return Emission(
        "message.rejected",
        datetime.fromtimestamp(rejected.timestamp_ms / 1000, UTC),
        MessageRejected(
            topic=rejected.topic,
            partition=rejected.partition,
            offset=rejected.offset,
            key=rejected.key,
            error=rejected.error,
            original=rejected.original,
            original_encoding=rejected.original_encoding,
        ),
    )
