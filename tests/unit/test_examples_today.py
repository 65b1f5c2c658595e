"""``dealreg examples``: every date of the example events moved by the same whole number of
days, the newest fact yesterday."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from dealreg.cli import _parser, _settings
from dealreg.cli.examples import days_to_move, moved, write_examples
from dealreg.settings import Settings
from tests.support.cli import dealreg

REPO = Path(__file__).resolve().parents[2]


def test_the_newest_fact_moves_to_yesterday_and_the_rest_keep_their_distances() -> None:
    events = [{"time": "2026-03-02T08:15:00Z", "data": {"submitted_at": "2026-03-02T08:15:00Z",
                                                        "expected_close_date": "2026-06-01"}},
              {"time": "2026-05-02T06:00:00.5+02:00", "data": {"period_start": "2026-04-02",
                                                               "ids": ["2026-04-02x"]}}]
    shift = days_to_move([events], date(2026, 12, 4))
    assert shift == timedelta(days=215)  # the expected close date, later, does not count
    assert [moved(event, shift) for event in events] == [
        {"time": "2026-10-03T08:15:00Z", "data": {"submitted_at": "2026-10-03T08:15:00Z",
                                                  "expected_close_date": "2027-01-02"}},
        {"time": "2026-12-03T06:00:00.5+02:00", "data": {"period_start": "2026-11-03",
                                                         "ids": ["2026-04-02x"]}}]


def test_the_examples_written_are_valid_and_dated_to_today(tmp_path: Path) -> None:
    args = _parser().parse_args(["examples", "--from", str(REPO / "examples"),
                                 "--to", str(tmp_path)])
    assert write_examples(args, _settings(args)) == 0
    written = {path.name: [json.loads(line) for line in path.read_text().splitlines()]
               for path in tmp_path.iterdir()}
    assert sorted(written) == ["crm.jsonl", "partners.jsonl", "registrations.jsonl"]
    newest = max(event["time"] for events in written.values() for event in events)
    assert newest[:10] == (date.today() - timedelta(days=1)).isoformat()
    originals = [json.loads(line) for line in (REPO / "examples/crm.jsonl").read_text()
                 .splitlines()]
    assert [event["id"] for event in written["crm.jsonl"]] == [e["id"] for e in originals]


def test_example_files_that_are_missing_or_not_json_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = dealreg(capsys, monkeypatch, Settings(), "examples", "--from",
                      str(tmp_path / "nowhere"))
    assert (missing.status, missing.stderr) == (1, (
        f"dealreg: no example files (*.jsonl) in {tmp_path / 'nowhere'}: run it from the "
        "repository, or give --from DIR\n"))
    (tmp_path / "broken.jsonl").write_text('{"time": "2026-03-01T00:00:00Z"}\n{oops\n')
    broken = dealreg(capsys, monkeypatch, Settings(), "examples", "--from", str(tmp_path),
                     "--to", str(tmp_path / "out"))
    assert broken.status == 1
    assert broken.stderr.startswith(f"dealreg: {tmp_path}/broken.jsonl line 2: not JSON (")
    assert not (tmp_path / "out").exists()
