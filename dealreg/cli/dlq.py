"""``dealreg dlq list|show|replay``: the dead letters (bad input, docs/contract.md §7) as the
services recorded them in their event stores, and replaying one, corrected, to its topic.

A dead letter's id is the CloudEvents ``id`` of its ``message.rejected`` event on
``dealreg.dlq.v1``. A replay never changes the dead letter: it produces a new record to the
original topic, the corrected CloudEvent (or the original) with the extension attribute
``dealregreplayof`` naming the dead letter, which the services then read like any input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dealreg.actions.producing import Message, produce, validate_line
from dealreg.cli.actions import CommandError
from dealreg.cli.flags import REPORT, command, kafka_flags, store_flags
from dealreg.cli.kafka import read_text
from dealreg.cli.stores import existing_service_stores
from dealreg.cli.times import instant_or_day
from dealreg.events.schemas import TOPICS, BadInput
from dealreg.events.schemas.outputs import MessageRejected
from dealreg.eventstore import ServiceApplication
from dealreg.identity import emitted_event_id
from dealreg.rejections import RejectedMessage, dead_letter
from dealreg.settings import Settings

#: The CloudEvents extension attribute of a replayed record: the dead letter's id.
REPLAY_OF = "dealregreplayof"
#: The shortest id prefix ``show`` and ``replay`` accept for a dead letter id.
MIN_PREFIX = 8


@dataclass(frozen=True)
class DeadLetter:
    """One rejected record, as the service that rejected it recorded it: its
    ``message.rejected`` (id, time, data) on ``dealreg.dlq.v1``."""

    dead_letter_id: str
    service: str
    time: datetime
    data: MessageRejected

    @property
    def rejected(self) -> str:
        """When the rejected record was produced: its Kafka timestamp, UTC, to the
        millisecond (as Kafka keeps it)."""
        return self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def document(self) -> dict[str, Any]:
        return {"dead_letter_id": self.dead_letter_id, "service": self.service,
                "time": self.rejected, **self.data.model_dump()}


def add_commands(dlq: argparse.ArgumentParser) -> None:
    commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = command(commands, "list", "every dead letter, oldest first", *REPORT)
    listing.add_argument("--topic", metavar="TOPIC",
                         help="only those of this topic, e.g. registrations.requests.v1")
    listing.add_argument("--since", type=instant_or_day, metavar="RFC3339|YYYY-MM-DD",
                         help="only those rejected since then (a date: from 00:00 UTC)")
    show = command(commands, "show", "one dead letter: where it came from, the error "
                    "naming the field, the original value", *REPORT)
    show.add_argument("dead_letter_id", metavar="ID", help="its id (or its first 8+ "
                      "characters), as dealreg dlq list shows it")
    show.add_argument("--original", action="store_true",
                      help="print only the original value, e.g. to correct it in a file")
    replay = command(commands, "replay", "produce the original of each dead letter again "
                      "to its topic, or --edited the corrected one, linked to the dead "
                      f"letter by the CloudEvents attribute {REPLAY_OF}", kafka_flags,
                      store_flags)
    replay.add_argument("dead_letter_ids", metavar="ID", nargs="+")
    replay.add_argument("--edited", metavar="FILE",
                        help="the corrected CloudEvent (one JSON object; - for stdin) to "
                        "produce instead of the original (one ID only)")


async def run_dlq(args: argparse.Namespace, settings: Settings) -> int:
    letters = await asyncio.to_thread(dead_letters, settings)
    if args.dlq_command == "list":
        return _list(args, settings, letters)
    if args.dlq_command == "show":
        return _show(args, find(letters, args.dead_letter_id))
    return await _replay(args, settings, letters)


def dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter of the three services, oldest rejected record first."""
    with existing_service_stores(settings) as apps:
        found = [letter for name, app in apps.items() for letter in _of(name, app)]
    return sorted(found, key=lambda d: (d.time, d.data.topic, d.data.partition,
                                        d.data.offset, d.service))


def _of(service: str, app: ServiceApplication) -> Iterator[DeadLetter]:
    for event in app.stored_events(RejectedMessage.Rejected):
        published = dead_letter(event)  # as the outbox publishes it
        assert isinstance(published.data, MessageRejected)
        yield DeadLetter(
            dead_letter_id=emitted_event_id(service, str(event.originator_id),
                                            event.originator_version, 0),
            service=service, time=published.time, data=published.data)


def find(letters: Sequence[DeadLetter], given: str) -> DeadLetter:
    """The dead letter whose id is, or starts with, ``given``."""
    if len(given) < MIN_PREFIX:
        raise CommandError(f"dead letter id {given!r} is too short: give at least "
                           f"{MIN_PREFIX} characters of it")
    matching = [letter for letter in letters if letter.dead_letter_id.startswith(given)]
    if not matching:
        raise CommandError(f"no dead letter {given!r} (dealreg dlq list shows them)")
    if len(matching) > 1:
        raise CommandError(f"{given!r} names {len(matching)} dead letters: give more of "
                           "its id")
    return matching[0]


# ------------------------------------------------------------------ list, show


def _list(args: argparse.Namespace, settings: Settings, letters: list[DeadLetter]) -> int:
    chosen = [letter for letter in letters
              if (args.topic is None
                  or args.topic in (letter.data.topic, settings.logical_topic(letter.data.topic)))
              and (args.since is None or letter.time >= args.since)]
    if args.json:
        print(json.dumps([letter.document() for letter in chosen], indent=2,
                         ensure_ascii=False))
        return 0
    if not chosen:
        print("no dead letters", file=sys.stderr)
        return 0
    print(f"{'ID':36}  {'REJECTED (UTC)':24}  {'SERVICE':12}  {'TOPIC':26}  "
          f"{'PARTITION':>9}  {'OFFSET':>7}  ERROR")
    for letter in chosen:
        print(f"{letter.dead_letter_id:36}  {letter.rejected:24}  "
              f"{letter.service:12}  {letter.data.topic:26}  {letter.data.partition:>9}  "
              f"{letter.data.offset:>7}  {_one_line(letter.data.error, 100)}")
    return 0


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def _show(args: argparse.Namespace, letter: DeadLetter) -> int:
    if args.original:
        print("" if letter.data.original is None else letter.data.original)
        return 0
    if args.json:
        print(json.dumps(letter.document(), indent=2, ensure_ascii=False))
        return 0
    print("\n".join([
        f"dead letter {letter.dead_letter_id}",
        f"  rejected by  the {letter.service} service",
        f"  rejected     {letter.rejected} (the record's Kafka timestamp)",
        f"  from         {letter.data.topic}, partition {letter.data.partition}, "
        f"offset {letter.data.offset}",
        f"  key          {'(none)' if letter.data.key is None else letter.data.key}",
        f"  error        {letter.data.error}",
        f"  original     ({letter.data.original_encoding}; correct it in a file and "
        f"dealreg dlq replay {letter.dead_letter_id[:MIN_PREFIX]} --edited FILE):",
        _readable(letter.data.original),
    ]))
    return 0


def _readable(original: str | None) -> str:
    """The original value, indented as JSON when it is JSON."""
    if original is None:
        return "(no value)"
    try:
        return json.dumps(json.loads(original), indent=2, ensure_ascii=False)
    except ValueError:
        return original


# ------------------------------------------------------------------ replay


async def _replay(args: argparse.Namespace, settings: Settings,
                  letters: list[DeadLetter]) -> int:
    chosen = list({letter.dead_letter_id: letter for letter in
                   (find(letters, given) for given in args.dead_letter_ids)}.values())
    if args.edited is not None and len(chosen) > 1:
        raise CommandError("--edited corrects one dead letter: give one ID")
    edited = read_text(args.edited) if args.edited is not None else None
    replays = [replay_message(letter, settings, edited) for letter in chosen]
    for topic, message, letter in replays:  # every one valid before any is produced
        await produce(settings, topic, [message])
        print(f"replayed dead letter {letter.dead_letter_id} to {settings.topic(topic)} as "
              f"{message.event.envelope.type} {message.event.envelope.id}", file=sys.stderr)
    return 0


def replay_message(letter: DeadLetter, settings: Settings,
                   edited: str | None) -> tuple[str, Message, DeadLetter]:
    """The contract topic and the validated message that replay ``letter``: ``edited`` (the
    corrected CloudEvent) or its original, with :data:`REPLAY_OF` naming the dead letter;
    :class:`CommandError` naming the field when it is still bad input."""
    topic = settings.logical_topic(letter.data.topic)
    if topic not in TOPICS:
        raise CommandError(f"dead letter {letter.dead_letter_id}: {letter.data.topic!r} is not a "
                           "topic of the contract (another DEALREG_TOPIC_PREFIX?)")
    which = "the edited event" if edited is not None else "its original"
    text = edited if edited is not None else (
        letter.data.original if letter.data.original_encoding == "utf-8" else None)
    try:
        document = json.loads(text or "")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise CommandError(f"dead letter {letter.dead_letter_id}: {which} is not one JSON "
                           "object; correct it (dealreg dlq show ID --original > FILE) and "
                           "replay it with --edited FILE")
    document[REPLAY_OF] = letter.dead_letter_id
    try:
        message = validate_line(topic, json.dumps(document, ensure_ascii=False))
    except BadInput as bad:
        raise CommandError(f"dead letter {letter.dead_letter_id}: {which} is still bad "
                           f"input: {bad.error}; nothing was produced") from None
    return topic, message, letter
