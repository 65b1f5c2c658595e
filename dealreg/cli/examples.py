"""``dealreg examples``: the README's example events dated relative to today.

The files in ``examples/`` keep fixed dates (March to May 2026), which the tests and the
docs can quote. Published as they are on a later date, every registration would be approved
and expired at once. This command writes copies of them in which every time and date has
moved by the same whole number of days, so that the newest fact of the set (the invoice)
happened yesterday and the rest keep their distances: enrollments months ago, registrations
about two months ago (a 30-day referral window has ended, the 75-day ones still protect),
the deal a month ago.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dealreg.cli.actions import CommandError
from dealreg.settings import Settings

SUMMARY = ("write the example events of examples/*.jsonl dated relative to today (the "
           "newest fact yesterday), to publish them as the README shows")

#: A date, or the date part of an RFC 3339 timestamp, at the start of a JSON string.
DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$")


def add_command(command: argparse.ArgumentParser) -> None:
    command.add_argument("--from", dest="source", type=Path, default=Path("examples"),
                         metavar="DIR", help="where the example files are (default: examples)")
    command.add_argument("--to", dest="target", type=Path, metavar="DIR",
                         help="where to write them (default: DEALREG_DATA_DIR/examples, "
                         ".dealreg/examples)")


def write_examples(args: argparse.Namespace, settings: Settings) -> int:
    files = sorted(args.source.glob("*.jsonl"))
    if not files:
        raise CommandError(f"no example files (*.jsonl) in {args.source.resolve()}: run "
                           "it from the repository, or give --from DIR")
    documents = {file.name: _events(file) for file in files}
    today = datetime.now(UTC).date()
    shift = days_to_move(documents.values(), today)
    target: Path = args.target or settings.data_dir / "examples"
    target.mkdir(parents=True, exist_ok=True)
    for name, events in documents.items():
        lines = [json.dumps(moved(event, shift), ensure_ascii=False) for event in events]
        (target / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(target / name)
    print(f"dealreg examples: {len(documents)} files in {target}, every date moved by "
          f"{shift.days} days (the newest fact is now {today - timedelta(days=1)})",
          file=sys.stderr)
    return 0


def _events(file: Path) -> list[Any]:
    """The CloudEvents of one example file; :class:`CommandError` naming the line that is
    not JSON."""
    events = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError as error:
                raise CommandError(f"{file} line {number}: not JSON ({error})") from None
    return events


def days_to_move(documents: Iterable[list[Any]], today: date) -> timedelta:
    """How far to move every date so that the newest fact (the greatest CloudEvent
    ``time``; an expected close date may be later) is the day before ``today``."""
    days = [date.fromisoformat(match.group(1)) for events in documents for event in events
            if isinstance(event, dict) and isinstance(event.get("time"), str)
            and (match := DATED.match(event["time"]))]
    if not days:
        raise CommandError("the example files hold no CloudEvent time to move")
    return today - timedelta(days=1) - max(days)


def moved(value: Any, shift: timedelta) -> Any:
    """``value`` with every date and timestamp string moved by ``shift`` (the time of day
    and the offset are kept)."""
    if isinstance(value, dict):
        return {key: moved(item, shift) for key, item in value.items()}
    if isinstance(value, list):
        return [moved(item, shift) for item in value]
    if isinstance(value, str) and (match := DATED.match(value)):
        day = date.fromisoformat(match.group(1)) + shift
        return day.isoformat() + value[len(match.group(1)):]
    return value
