"""Producing validated CloudEvents to the contract's topics, keyed as the contract says: what
``dealreg publish``, the commands that send one event and the HTTP API all send through."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from dealreg.events.schemas import (
    CLOUDEVENTS_CONTENT_TYPE,
    BadInput,
    ParsedEvent,
    kafka_key,
    parse_event,
)
from dealreg.settings import Settings


@dataclass(frozen=True)
class Message:
    """A valid CloudEvent of a contract topic, as it is produced: Kafka key and value."""

    event: ParsedEvent
    key: bytes
    value: bytes


def validate_line(topic: str, line: str) -> Message:
    """The message of one CloudEvent line of ``topic``, keyed as the contract says, or
    :class:`BadInput` naming the field."""
    value = line.encode("utf-8")
    event = parse_event(value, topic)
    return Message(event, kafka_key(event).encode("utf-8"), value)


def validate_lines(topic: str, lines: Iterable[str]) -> tuple[list[Message], list[str]]:
    """The message of each valid non-blank line, and one error per invalid line."""
    messages: list[Message] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            messages.append(validate_line(topic, line))
        except BadInput as bad:
            errors.append(f"line {number}: {bad.error}")
    return messages, errors


#: Produces validated messages to a contract topic and waits for the broker's
#: acknowledgements (:meth:`Producer.send`, or a test's stand-in).
Produce = Callable[[str, Sequence[Message]], Awaitable[None]]


class Producer:
    """A Kafka producer started at its first send and kept until :meth:`close`, for a
    process that sends many times (the HTTP API); a send that fails closes it, and the next
    one starts it again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def send(self, topic: str, messages: Sequence[Message]) -> None:
        """Produce ``messages`` to ``topic`` (a contract topic name), in order, and wait
        until the broker has acknowledged every one."""
        producer = await self._started()
        try:
            sends = [
                await producer.send(
                    self.settings.topic(topic), value=message.value, key=message.key,
                    headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
                )
                for message in messages
            ]
            await asyncio.gather(*sends)
        except BaseException:
            await self.close()
            raise

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.settings.bootstrap,
                                            acks="all")
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


async def produce(settings: Settings, topic: str, messages: Sequence[Message]) -> None:
    """Produce validated messages to ``topic`` once, with a producer of their own."""
    producer = Producer(settings)
    try:
        await producer.send(topic, messages)
    finally:
        await producer.close()
