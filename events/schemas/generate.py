"""Generate the checked-in JSON Schema files and the AsyncAPI document from the models.

    python -m dealreg.events.schemas.generate          # write the files
    python -m dealreg.events.schemas.generate --check  # exit 1 and list the stale files
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from dealreg.events.schemas.envelope import CLOUDEVENTS_CONTENT_TYPE, envelope_model
from dealreg.events.schemas.registry import EVENTS, TOPICS, EventSpec

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "json"
ASYNCAPI = HERE / "asyncapi.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_file_name(spec: EventSpec) -> str:
    """``<type>.json``; the portal's ``registration.withdrawn`` input gets a ``.request`` infix."""
    if spec.direction == "input" and spec.name == "registration.withdrawn":
        return f"{spec.type}.request.json"
    return f"{spec.type}.json"


def event_schema(spec: EventSpec) -> dict[str, Any]:
    mode: Literal["validation", "serialization"] = (
        "validation" if spec.direction == "input" else "serialization"
    )
    schema = envelope_model(spec).model_json_schema(mode=mode)
    return {
        "$schema": DIALECT,
        "$id": f"https://dealreg.example/schemas/{schema_file_name(spec)}",
        **schema,
        "title": spec.type,
        "description": f"{spec.name} on {spec.topic} ({spec.direction}); Kafka key: "
        f"{TOPICS[spec.topic].key}",
    }


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS.values():
        specs = [spec for spec in EVENTS if spec.topic == topic.name]
        channel_messages = {}
        for spec in specs:
            message_id = schema_file_name(spec).removesuffix(".json").replace(".", "_")
            messages[message_id] = {
                "name": spec.type,
                "title": spec.name,
                "contentType": CLOUDEVENTS_CONTENT_TYPE,
                "payload": {"$ref": f"json/{schema_file_name(spec)}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": topic.key}}},
            }
            channel_messages[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channel_id = topic.name.replace(".", "_")
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description}. Written by {topic.written_by}; "
            f"key: {topic.key}. A configured topic prefix is prepended.",
            "messages": channel_messages,
        }
        action = "send" if any(spec.direction == "output" for spec in specs) else "receive"
        operations[f"{action}_{channel_id}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": ("dealreg publishes" if action == "send" else "dealreg consumes")
            + f" {topic.name}",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dealreg",
            "version": "1.0.0",
            "description": "Partner deal registration: the Kafka topics and CloudEvents of "
            "the dealreg wire contract (v1).",
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[Path, str]:
    """Every generated file and its exact content."""
    files = {
        SCHEMA_DIR / schema_file_name(spec): _dump(event_schema(spec)) for spec in EVENTS
    }
    files[ASYNCAPI] = _dump(asyncapi_document())
    return files


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files() -> list[Path]:
    """Generated files that are missing, different, or no longer generated."""
    expected = rendered()
    stale = [path for path, text in expected.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    stale += [path for path in SCHEMA_DIR.glob("*.json") if path not in expected]
    return sorted(stale)


def write() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    expected = rendered()
    for path in SCHEMA_DIR.glob("*.json"):
        if path not in expected:
            path.unlink()
    for path, text in expected.items():
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(HERE)}", file=sys.stderr)
        return 1 if stale else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
