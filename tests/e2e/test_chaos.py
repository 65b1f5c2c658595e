"""The short chaos run (``make chaos`` runs the long one): the three services as separate
processes on the real broker and a PostgreSQL of the suite's own, under SIGKILLs, a second
instance killed, PostgreSQL restarts and pauses, with hostile input interleaved; the result
must equal the fault-free run and the reference, with nothing lost or doubled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_a_short_chaos_run_ends_as_the_fault_free_run_and_the_reference(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "chaos", "--registrations", "200", "--deals", "80",
         "--hostile", "40", "--fault-seconds", "25", "--report", str(report),
         "--workdir", str(tmp_path / "logs")],
        cwd=REPO, capture_output=True, text=True, timeout=850, check=False)
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    assert "OK: identical to the fault-free run" in result.stdout
    figures = json.loads(report.read_text())
    assert figures["problems"] == []
    assert set(figures["restarts_survived"]) == {"kill", "pair", "postgres", "pause"}
    assert figures["hostile_sent"] >= 40
    assert sum(figures["dlq_by_reason"].values()) >= figures["hostile_sent"]
    assert figures["registrations"] == 200
    assert figures["ledger_entries"] > 10
    assert set(figures["adjustments"]) == {"accepted", "unknown_deal", "deal_not_won",
                                           "unknown_partner", "currency_mismatch"}
