"""The wire contract as code: pydantic models of every CloudEvent dealreg reads or writes."""

from dealreg.events.schemas.envelope import (
    CLOUDEVENTS_CONTENT_TYPE,
    BadInput,
    CloudEvent,
    ParsedEvent,
    kafka_key,
    make_event,
    parse_event,
)
from dealreg.events.schemas.registry import (
    EVENTS,
    TOPICS,
    EventSpec,
    input_spec,
    output_spec,
    spec_for,
    spec_of,
)

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "EVENTS",
    "TOPICS",
    "BadInput",
    "CloudEvent",
    "EventSpec",
    "ParsedEvent",
    "input_spec",
    "kafka_key",
    "make_event",
    "output_spec",
    "parse_event",
    "spec_for",
    "spec_of",
]
