"""What people ask dealreg to do, one input event each, whichever tool they use: the
command line (``dealreg disputes resolve``, ``payouts adjust``, ``partners enroll`` …) and
the HTTP API build the event with the same function, validate it as ``dealreg publish``
validates a line, and produce it keyed as the contract says.

A CloudEvent's id is a uuid5 of the event's payload, so the same request sent again sends
the same event, which the services take as a repeat; the ids the contract leaves to the
tool (a raised dispute's, a manual adjustment's, a registration's) are uuid5s of the
business content too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dealreg.actions.producing import Message, Produce, validate_line
from dealreg.events.schemas import input_spec
from dealreg.events.schemas.values import format_utc
from dealreg.identity import business_id


def now() -> datetime:
    """The default business time of a request: now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Outgoing:
    """The one input event a request sends: its contract name, its payload as JSON values,
    the business time of the fact, its source and, in words, what it says. ``options``
    names the command line's argument behind each payload field, for its error messages."""

    name: str
    data: dict[str, Any]
    time: datetime
    source: str
    sentence: str
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """uuid5 of the event and its payload: the same request gives the same id."""
        content = json.dumps(self.data, sort_keys=True, ensure_ascii=False)
        return str(business_id(f"command:{self.name}", content))


def message(outgoing: Outgoing) -> Message:
    """The CloudEvent of ``outgoing``, validated as ``dealreg publish`` validates a line,
    with its Kafka key; :class:`~dealreg.events.schemas.BadInput` naming the payload's
    field (``data.…``) when it is invalid."""
    spec = input_spec(outgoing.name)
    document = {
        "specversion": "1.0",
        "id": outgoing.event_id,
        "source": outgoing.source,
        "type": spec.type,
        "time": format_utc(outgoing.time),
        "subject": spec.subject(spec.model.model_construct(**outgoing.data)),
        "datacontenttype": "application/json",
        "data": outgoing.data,
    }
    line = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return validate_line(spec.topic, line)


async def send(outgoing: Outgoing, produce: Produce) -> Message:
    """Validate ``outgoing`` and produce it to its topic; the message sent."""
    sent = message(outgoing)
    await produce(sent.event.spec.topic, [sent])
    return sent
