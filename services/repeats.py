"""A business id seen again: the same content is a harmless repeat (a producer's retry), other
content is bad input naming the fields that differ, never silently ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dealreg.events.schemas import BadInput


def check_repeat(kind: str, business_id: str, stored: object,
                 received: Mapping[str, Any]) -> None:
    """Raise :class:`BadInput` unless every field of ``received`` equals ``stored``'s."""
    differing = sorted(name for name, value in received.items()
                       if getattr(stored, name) != value)
    if differing:
        raise BadInput(f"data.{differing[0]}: {kind} {business_id!r} was already received "
                       f"with other content (differs in {', '.join(differing)})")
