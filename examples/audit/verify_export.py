"""Re-verify the hash chains of a ``dealreg audit export`` file with nothing but Python.

    python verify_export.py export.jsonl

Recomputes every event's SHA-256 from the previous one and the event's canonical bytes
(docs/auditors.md) and stops at the first event that does not match: exit status 1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import uuid
from typing import Any


def canonical(event: dict[str, Any]) -> bytes:
    topic = event["topic"].encode()
    return b"".join((
        event["position"].to_bytes(8, "big", signed=True),
        uuid.UUID(event["originator_id"]).bytes,
        event["originator_version"].to_bytes(8, "big", signed=True),
        len(topic).to_bytes(4, "big"),
        topic,
        base64.b64decode(event["state"]),
    ))


def main(path: str) -> int:
    heads: dict[str, bytes] = {}
    with open(path, encoding="utf-8") as export:
        for number, line in enumerate(export, 1):
            event = json.loads(line)
            application = event["application"]
            digest = hashlib.sha256(heads.get(application, bytes(32)) + canonical(event))
            if digest.hexdigest() != event["hash"]:
                print(f"line {number}: {application} position {event['position']} does not "
                      "match its hash")
                return 1
            heads[application] = digest.digest()
    for application, head in heads.items():
        print(f"{application}: ok, head {head.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
