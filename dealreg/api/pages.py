"""Pages of the API's lists: at most ``limit`` items (default 100, at most 1000) and, when
more follow, ``next_cursor``, to send as ``cursor`` for the next page (null on the last).

A cursor is the sort key of the last item given (keyset pagination), so the next page
starts right after it even when items were added before it in the meantime: an item that
stays where it was is never given twice nor skipped. One whose place changes between two
pages (a dispute settled moves after the open ones) may be."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from dealreg.api.problems import invalid

T = TypeVar("T")
Key = tuple[Any, ...]
LIMIT, MOST = 100, 1000
Limit = Annotated[int, Query(ge=1, le=MOST, description="the most items of the page")]
Cursor = Annotated[str | None, Query(max_length=1000, description="the next_cursor of the "
                                     "page before (none: the first page)")]


def page(items: Sequence[T], key: Callable[[T], Key], limit: int, cursor: str | None, *,
         descending: bool = False) -> tuple[list[T], str | None]:
    """The page of ``items`` (sorted by ``key``, the greatest first when ``descending``)
    after ``cursor``, and the cursor of the next page."""
    if cursor is not None:
        after = _decoded(cursor)
        try:
            items = [item for item in items
                     if (key(item) < after if descending else key(item) > after)]
        except TypeError:  # a key of another list
            raise _not_a_cursor() from None
    found = list(items[:limit])
    more = len(items) > limit
    return found, _encoded(key(found[-1])) if more else None


def _encoded(key: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decoded(cursor: str) -> Key:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _not_a_cursor() from None
    if not isinstance(value, list):
        raise _not_a_cursor()
    return tuple(value)


def _not_a_cursor() -> Exception:
    return invalid("cursor", "is not a cursor of this list: send the next_cursor of its "
                   "page before", "query")
