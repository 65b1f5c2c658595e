"""`make bench` harness, smoke-tested with tiny sizes: it runs end to end, writes every figure
the issue asks for, and its correctness checks pass. No performance assertion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests import conftest

REPO = Path(__file__).resolve().parents[2]

REQUIRED = (
    "e2e_registrations_per_s", "raw_aggregate_writes_per_s", "e2e_ratio",
    "raw_kafka_consume_per_s", "payout_deals_per_s", "latency_p50_ms", "latency_p95_ms",
    "latency_p99_ms", "latency_200_p50_ms", "latency_200_p99_ms", "cpu_ms_per_registration",
    "rebuild_events_per_s", "raw_log_read_per_s", "rebuild_ratio",
    "scale_cost_growth", "peak_rss_mb",
)


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    env = dict(os.environ, DEALREG_BENCH_DATABASE_URL=conftest.test_database_url())
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output),
         "--work-dir", str(tmp_path / "work")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=170, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(output.read_text(encoding="utf-8"))

    assert set(REQUIRED) <= set(results)
    for key in REQUIRED:
        if key == "scale_cost_growth":
            assert results[key] is None  # --scale did not run
            continue
        assert isinstance(results[key], int | float), key
        assert results[key] > 0, key
    assert results["correctness"] == {"passed": True, "problems": []}
    checks = results["checks"]["main"]
    assert checks["registrations_decided"] == checks["registrations_expected"] == 300
    assert checks["registrations_double_decided"] == 0
    assert checks["deals_paid"] == checks["deals_expected"] == 100
    assert checks["invoices_paid"] == checks["invoices_expected"] > 0  # msp deals' invoices
    assert checks["payouts_double"] == 0
    assert checks["latency_approved"] == checks["latency_expected"] == 150
    assert checks["latency_200_approved"] == checks["latency_200_expected"] == 60
    statuses = {row["key"]: row["status"] for row in results["targets"]}
    for key in ("e2e_registrations_per_s", "cpu_ms_per_registration", "payout_deals_per_s",
                "latency_200_p50_ms", "latency_200_p99_ms", "rebuild_events_per_s",
                "peak_rss_mb"):
        assert statuses[key] in ("PASS", "FAIL"), key  # each has its target and a verdict
    assert statuses["scale_cost_growth"] == "not run"
    config = results["config"]
    assert config["cpu_count"] >= 1
    assert config["services"]["batch_max_records"] >= 1
    for figure in ("end-to-end registrations", "latency p99 at 20/s", "latency p99 at 50/s",
                   "CPU per registration", "projections rebuild", "correctness"):
        assert figure in run.stdout

    prefix = f"bench_{results['details']['main']['run']}_"
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as conn:
        leftovers = conn.execute("SELECT count(*) FROM pg_namespace "
                                 "WHERE starts_with(nspname, %s)", (prefix,)).fetchone()
    assert leftovers == (0,)  # the harness dropped its schemas
