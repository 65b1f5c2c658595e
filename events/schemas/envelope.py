"""The CloudEvents 1.0 envelope (structured JSON mode), parsing with clear errors, building.

``parse_event`` is the only way a Kafka value becomes an event in dealreg: anything it
refuses is bad input (docs/contract.md §7) and its ``BadInput.error`` names the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.events.schemas.registry import (
    KNOWN_TYPES,
    EventSpec,
    output_spec,
    spec_for,
    specs_on,
)
from dealreg.events.schemas.values import Id, UtcDatetime

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
MAX_VALUE_BYTES = 1024 * 1024
TYPE_PATTERN = r"^dealreg\.[a-z_]+(\.[a-z_]+)*\.v1$"



class BadInput(Exception):  # noqa: N818 - the contract's term
    """A message that is not a valid event of its topic; ``error`` names the field."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class CloudEvent(BaseModel):
    """The envelope; ``data`` is typed by the per-type subclasses of :func:`envelope_model`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"]
    id: Id
    source: Annotated[str, Field(min_length=1, max_length=1000)]
    type: Annotated[str, Field(pattern=TYPE_PATTERN)]
    time: UtcDatetime
    subject: Annotated[str, Field(min_length=1, max_length=1000)]
    datacontenttype: Literal["application/json"]
    data: Any

    def to_bytes(self) -> bytes:
        """The Kafka value: compact UTF-8 JSON."""
        return self.model_dump_json().encode("utf-8")


def _policy_not_backdated(event: Any) -> Any:
    """A non-retroactive policy must not take effect before it was published (§6)."""
    data: PolicyPublished = event.data
    if not data.retroactive and data.effective_from < event.time:
        raise ValueError(
            "data.effective_from: a policy with retroactive false must not take effect "
            "before its event time"
        )
    return event


@cache
def envelope_model(spec: EventSpec) -> type[CloudEvent]:
    """The envelope with ``type`` fixed to ``spec``'s and ``data`` typed by its model."""
    validators: dict[str, Any] = {}
    if spec.model is PolicyPublished:
        validators["policy_not_backdated"] = model_validator(mode="after")(_policy_not_backdated)
    fixed_type: Any = (Literal[spec.type], ...)
    return create_model(
        "".join(part.title() for part in spec.name.replace("_", ".").split(".")) + "Event",
        __base__=CloudEvent,
        __validators__=validators,
        type=fixed_type,
        data=(spec.model, ...),
    )


@dataclass(frozen=True)
class ParsedEvent:
    """A valid event read from a topic."""

    envelope: CloudEvent
    spec: EventSpec

    @property
    def name(self) -> str:
        """The contract name, e.g. ``registration.submitted``."""
        return self.spec.name

    @property
    def data(self) -> BaseModel:
        data: BaseModel = self.envelope.data
        return data


def _describe(error: ValidationError, limit: int = 5) -> str:
    problems = []
    for item in error.errors(include_url=False)[:limit]:
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    more = error.error_count() - limit
    if more > 0:
        problems.append(f"and {more} more")
    return "; ".join(problems)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


@dataclass(frozen=True)
class _TopicReader:
    """Validates a value as any of a topic's events in one pass (discriminated by ``type``)."""

    adapter: TypeAdapter[CloudEvent]
    specs: dict[type[CloudEvent], EventSpec]


@cache
def _reader(topic: str) -> _TopicReader | None:
    specs = {envelope_model(spec): spec for spec in specs_on(topic)}
    if not specs:
        return None  # not a contract topic: the careful pass says so
    models = tuple(specs)
    shape: Any = (models[0] if len(models) == 1 else
                  Annotated[Union[models], Field(discriminator="type")])  # noqa: UP007
    return _TopicReader(TypeAdapter(shape), specs)


def _valid_event(text: str, topic: str) -> ParsedEvent | None:
    """The event, when ``text`` is a valid one of ``topic``, read in a single pass (about
    half the cost of :func:`_read_carefully`); None for anything else, which
    :func:`_read_carefully` then reads to say what is wrong.

    The single pass accepts nothing the careful one refuses: both validate with the same
    models on the same JSON parser, and the one thing the careful pass refuses beyond them,
    the constants ``NaN`` and ``Infinity`` that JSON does not have, sends a value to it."""
    reader = _reader(topic)
    if reader is None or "NaN" in text or "Infinity" in text:
        return None
    try:
        envelope = reader.adapter.validate_json(text, strict=True)
    except ValidationError:
        return None
    return ParsedEvent(envelope, reader.specs[type(envelope)])


def parse_event(value: bytes | None, topic: str) -> ParsedEvent:
    """The event a Kafka value of the contract topic ``topic`` holds, or :class:`BadInput`."""
    if not value:
        raise BadInput("value: the message is empty")
    if len(value) > MAX_VALUE_BYTES:
        raise BadInput(f"value: {len(value)} bytes is over the limit of {MAX_VALUE_BYTES}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"value: not UTF-8 text (byte {error.start})") from None
    return _valid_event(text, topic) or _read_carefully(text, topic)


def _read_carefully(text: str, topic: str) -> ParsedEvent:
    """The event ``text`` holds, read step by step (JSON, then its type, then the type's
    model), or :class:`BadInput` naming the first thing wrong."""
    try:
        document = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise BadInput(
            f"value: malformed JSON: {error.msg.removesuffix(' at')} (line {error.lineno}, "
            f"column {error.colno})"
        ) from None
    except RecursionError:
        raise BadInput("value: malformed JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise BadInput(f"value: malformed JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadInput(f"value: a CloudEvent is a JSON object, not {type(document).__name__}")
    type_ = document.get("type")
    if not isinstance(type_, str):
        raise BadInput("type: missing or not a string")
    spec = spec_for(topic, type_)
    if spec is None:
        if type_ in KNOWN_TYPES:
            raise BadInput(f"type: {type_!r} does not belong on topic {topic!r}")
        raise BadInput(f"type: unknown event type {type_!r}")
    try:
        envelope = envelope_model(spec).model_validate_json(text, strict=True)
    except ValidationError as error:
        raise BadInput(_describe(error)) from None
    return ParsedEvent(envelope, spec)


def make_event(
    name: str, *, id: str, source: str, time: datetime, data: BaseModel
) -> CloudEvent:
    """An output event of the contract, validated like any input would be."""
    spec = output_spec(name)
    return envelope_model(spec)(
        specversion="1.0",
        id=id,
        source=source,
        type=spec.type,
        time=time,
        subject=spec.subject(data),
        datacontenttype="application/json",
        data=data,
    )


def kafka_key(event: ParsedEvent) -> str:
    """The Kafka key of ``event`` on its topic (docs/contract.md §2)."""
    key = event.spec.key_of(event.data)
    return "" if key is None else key
