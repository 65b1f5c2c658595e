"""Deterministic identities: the same input history always yields the same ids.

Aggregate ids are ``uuid5`` of a business key, and every emitted CloudEvent's ``id`` is a
``uuid5`` of the stored event that caused it, so a re-published or replayed event carries
the id it had the first time and downstream consumers recognise it (docs/contract.md §1).
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

#: The namespace of every dealreg uuid5.
DEALREG_NAMESPACE = UUID("6f1c3a52-8e0b-5d0e-9a53-d3a1f0c0de9a")


@lru_cache(maxsize=4096)
def business_id(kind: str, key: str) -> UUID:
    """The id of the ``kind`` aggregate for business key ``key`` (e.g. a registration id).
    The last ones are kept: a batch asks for the same ids several times (its read-ahead, its
    handlers, each partner's at every payout computed), and a uuid5 costs a SHA-1."""
    return uuid5(DEALREG_NAMESPACE, f"{kind}:{key}")


def emitted_event_id(service: str, originator_id: str, originator_version: int, index: int) -> str:
    """The CloudEvents id of the ``index``-th event emitted for a stored domain event."""
    return str(
        uuid5(DEALREG_NAMESPACE, f"emitted:{service}:{originator_id}:{originator_version}:{index}")
    )
