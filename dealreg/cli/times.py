"""Instants and dates as a person types them on the command line."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time


def instant(text: str) -> datetime:
    """RFC3339: an RFC 3339 timestamp with its offset (``2026-03-10T09:00:00Z``)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"the timestamp needs an offset or Z: {text!r}")
    return parsed


def instant_or_day(text: str) -> datetime:
    """RFC3339|YYYY-MM-DD: a timestamp, or a date meaning 00:00 UTC that day (the start of
    the day, as a policy's rates apply from ``period_start``)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if len(text) == len("YYYY-MM-DD"):
            return datetime.combine(day, time(), UTC)
    try:
        return instant(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (or a date: YYYY-MM-DD)") from None
