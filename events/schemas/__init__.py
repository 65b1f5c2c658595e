"""The wire contract as code: pydantic models of every CloudEvent dealreg reads or writes."""

from events.schemas.envelope import (
    CLOUDEVENTS_CONTENT_TYPE,
    BadInput,
    CloudEvent,
    ParsedEvent,
    kafka_key,
    make_event,
    parse_event,
)
from events.schemas.registry import EVENTS, TOPICS, EventSpec, output_spec, spec_for

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "EVENTS",
    "TOPICS",
    "BadInput",
    "CloudEvent",
    "EventSpec",
    "ParsedEvent",
    "kafka_key",
    "make_event",
    "output_spec",
    "parse_event",
    "spec_for",
]
