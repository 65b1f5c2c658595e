"""docs/contract.md says what the code does: every topic, every event and every field of
the schemas, the default policy, and no pointer to a specification outside the
repository."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from dealreg.events.schemas.registry import EVENTS, TOPICS
from dealreg.services.program_policy import DEFAULT_POLICY

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")


def _section(title_prefix: str) -> str:
    """The text of the ``## <title_prefix>…`` section, up to the next ``## ``."""
    match = re.search(rf"^## {re.escape(title_prefix)}.*?$(.*?)(?=^## )", DOC,
                      re.MULTILINE | re.DOTALL)
    assert match, f"docs/contract.md has no section '## {title_prefix}'"
    return match.group(1)


def _table_rows(text: str) -> list[list[str]]:
    """The cells of every table row of ``text`` but header and ruler rows."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return rows


def _code(cell: str) -> str:
    return cell.strip("`")


def _documented_fields(section: str) -> dict[str, set[str]]:
    """``{event name: field names}`` of the ``### `name` `` subsections of ``section``."""
    fields: dict[str, set[str]] = {}
    for heading, body in re.findall(r"^### `([^`]+)`\s*$(.*?)(?=^### |\Z)", section,
                                    re.MULTILINE | re.DOTALL):
        rows = [row for row in _table_rows(body) if row[0] != "field"]
        fields[heading] = {_code(row[0]) for row in rows}
    return fields


@pytest.mark.parametrize(("direction", "section"), [("input", "3. Input events"),
                                                ("output", "3b. Output events")])
def test_every_event_is_documented_with_exactly_its_fields(direction: str, section: str) -> None:
    documented = _documented_fields(_section(section))
    specs = {spec.name: spec for spec in EVENTS if spec.direction == direction}
    assert set(documented) == set(specs)
    for name, spec in specs.items():
        assert documented[name] == set(spec.model.model_fields), name


def test_the_event_table_gives_each_event_its_topic_and_direction() -> None:
    rows = _table_rows(_section("2. Topics"))
    listed = {(_code(row[0]), _code(row[1]), row[2]) for row in rows
              if len(row) == 3 and row[0] != "event"}
    assert listed == {(spec.name, spec.topic, spec.direction) for spec in EVENTS}


def test_the_topic_table_gives_each_topic_its_key_and_events() -> None:
    rows = [row for row in _table_rows(_section("2. Topics")) if len(row) == 4]
    topics = {_code(row[0]): row for row in rows if row[0] != "topic"}
    assert set(topics) == set(TOPICS)
    for name, (_, key, _, events) in topics.items():
        if TOPICS[name].key != "original key":
            assert key == TOPICS[name].key, name
        named = set(re.findall(r"`([^`]+)`", events))
        assert named == {spec.name for spec in EVENTS if spec.topic == name}, name


def test_the_default_policy_table_is_the_default_policy() -> None:
    rows = _table_rows(_section("6. Program policy"))
    tiers = ("bronze", "silver", "gold", "platinum")
    checked = 0
    for row in rows:
        label, values = row[0], row[1:5]
        if label.endswith("window_days"):
            program = label.split()[0]
            assert [DEFAULT_POLICY.window_days(program, t) for t in tiers] == \
                [int(v) for v in values], label
            checked += 1
        elif label.endswith("commission rate"):
            program = label.split()[0]
            assert [DEFAULT_POLICY.commission_rate(program, t) for t in tiers] == \
                [Decimal(v) for v in values], label
            checked += 1
        elif "revenue share rate" in label:
            programs = ["msp"] if label.startswith("msp") else ["referral", "reseller"]
            for program in programs:
                assert [DEFAULT_POLICY.revenue_share_rate(program, t) for t in tiers] == \
                    [Decimal(v) for v in values], label
            checked += 1
    assert checked == 8


_OUTSIDE_POINTERS = ("../shared", "CONTRACT.md", "CONTRACT §", "shared/ folder")
_SKIPPED_DIRS = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".dealreg",
                 "node_modules", "__pycache__", "build", "dist"}
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".json", ".cfg", ".txt", ".sh",
                  ".html", ".js", ".css", ""}


def test_nothing_in_the_repository_points_to_a_specification_outside_it() -> None:
    offenders = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder, name)
            if path.suffix not in _TEXT_SUFFIXES or path == Path(__file__):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            offenders += [f"{path.relative_to(REPO)}: {pointer}"
                          for pointer in _OUTSIDE_POINTERS if pointer in text]
    assert offenders == []
