"""Checks of emitted events against the generated JSON Schemas, with the jsonschema package."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from dealreg.events.schemas import spec_for
from dealreg.events.schemas.generate import SCHEMA_DIR, schema_file_name


def assert_valid_event(document: dict[str, Any], topic: str) -> None:
    spec = spec_for(topic, document["type"])
    assert spec is not None, f"{document['type']} is not an event of {topic}"
    schema = json.loads((SCHEMA_DIR / schema_file_name(spec)).read_text(encoding="utf-8"))
    errors = [error.message for error in Draft202012Validator(schema).iter_errors(document)]
    assert errors == [], errors
