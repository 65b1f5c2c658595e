"""``python -m bench``: run the benchmark, print the table, write ``bench/results.json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.runner import Phases, RunOptions, StackBench, StackResult, bench_settings, say
from bench.stack import database_settings
from dealreg.settings import Settings

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).resolve().parent / "results.json"
SCALE_SIZES = (10_000, 100_000)


@dataclass(frozen=True)
class Target:
    """One figure of the table: a target on its value, or on its ratio to a raw limit of the
    same run (``ratio_key``), or neither (a figure for information)."""

    key: str
    label: str
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    ratio_key: str | None = None
    ratio_target: float | None = None


#: The targets of issue #16 (this 2-core machine, every figure beside its raw limit).
TARGETS = (
    Target("raw_kafka_consume_per_s", "raw (a) aiokafka consume + JSON decode", "msg/s"),
    Target("raw_aggregate_writes_per_s", "raw (b) eventsourcing PG recorder", "aggr/s"),
    Target("raw_chained_aggregate_writes_per_s", "raw (b') same, dealreg chained recorder",
           "aggr/s"),
    Target("e2e_registrations_per_s", "end-to-end registrations", "reg/s",
           ratio_key="e2e_ratio", ratio_target=0.15),
    Target("cpu_ms_per_registration", "CPU per registration (stack process tree)", "ms", 0.9,
           higher_is_better=False),
    Target("payout_deals_per_s", "payouts (won deals, msp invoices in the mix)", "deals/s",
           2_000),
    Target("latency_200_p50_ms", "latency p50 at the calm rate", "ms", 80,
           higher_is_better=False),
    Target("latency_200_p99_ms", "latency p99 at the calm rate", "ms", 250,
           higher_is_better=False),
    Target("latency_p50_ms", "latency p50 at the high rate", "ms"),
    Target("latency_p95_ms", "latency p95 at the high rate", "ms"),
    Target("latency_p99_ms", "latency p99 at the high rate", "ms"),
    Target("scale_small_registrations_per_s", "scale: e2e at N small", "reg/s"),
    Target("scale_large_registrations_per_s", "scale: e2e at N large", "reg/s"),
    Target("scale_cost_growth", "scale: cost per reg large/small", "x", 1.2,
           higher_is_better=False),
    Target("raw_log_read_per_s", "raw notification-log read", "events/s"),
    Target("rebuild_events_per_s", "projections rebuild", "events/s",
           ratio_key="rebuild_ratio", ratio_target=0.7),
    Target("peak_rss_mb", "peak RSS of dealreg up", "MB", 400, higher_is_better=False),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--registrations", type=int, default=50_000, metavar="N",
                        help="end-to-end registrations (default 50,000)")
    parser.add_argument("--deals", type=int, default=20_000, metavar="M",
                        help="won deals for the payout figure (default 20,000)")
    parser.add_argument("--calm-rate", type=float, default=200.0, metavar="R",
                        help="offered registrations/s below capacity, for the latency "
                        "targets (default 200)")
    parser.add_argument("--rate", type=float, default=500.0, metavar="R",
                        help="offered registrations/s for the high-rate latency figures "
                        "(default 500)")
    parser.add_argument("--duration", type=float, default=30.0, metavar="S",
                        help="seconds of offered load for the latency figure (default 30)")
    parser.add_argument("--partners", type=int, default=100, help="partners (default 100)")
    parser.add_argument("--scale", action="store_true",
                        help="also run fresh stacks at N=10,000 and N=100,000")
    parser.add_argument("--scale-sizes", type=int, nargs=2, default=SCALE_SIZES,
                        metavar=("SMALL", "LARGE"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (300 registrations, 100 deals, 20/s and 50/s for 3 s)")
    parser.add_argument("--one-process", action="store_true",
                        help="run dealreg up in one process (default: dealreg up --processes, "
                        "each service in a process of its own)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy record dealreg up during the e2e and payout phases")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help=f"results file (default {RESULTS})")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where stack logs and profiles go (default: a temp dir)")
    return parser


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def configuration(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    measured = ("partitions", "batch_max_records", "batch_timeout_ms", "outbox_batch_size",
                "outbox_poll_ms", "session_timeout_ms", "order_grace_ms", "log_level",
                "cipher_key")
    values = {spec.name: getattr(settings, spec.name) for spec in fields(settings)
              if spec.name in measured}
    values["cipher_key"] = bool(values["cipher_key"])
    url = settings.database_url
    return {
        "services": values | {"postgres_pool_size": 4, "kafka_offset_commit": "after each "
                              "stored batch (positions live in the event store)"},
        "postgres": database_settings(url),
        "database": url.split("@")[-1],
        "input_producer": {"acks": 1, "linger_ms": 20, "latency_linger_ms": 0},
        "sizes": {"registrations": args.registrations, "deals": args.deals,
                  "calm_rate_per_s": args.calm_rate, "rate_per_s": args.rate,
                  "duration_s": args.duration,
                  "partners": args.partners,
                  "scale": list(args.scale_sizes) if args.scale else None},
        "git_commit": git_commit(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "broker": "local Tansu broker (dealreg.local_broker), in memory",
        "stack": ("dealreg up --processes (each service and the projections follower in a "
                  "process of its own)" if settings.up_processes
                  else "dealreg up (one process)"),
        "scale_stack": "dealreg up (one process)",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def correctness(main: StackResult, scale: Sequence[StackResult]) -> dict[str, Any]:
    problems: list[str] = []
    for result in (main, *scale):
        checks = result.checks
        if checks.get("registrations_decided") != checks.get("registrations_expected"):
            problems.append(f"{result.label}: {checks.get('registrations_decided')} of "
                            f"{checks.get('registrations_expected')} registrations decided")
        if checks.get("registrations_double_decided"):
            problems.append(f"{result.label}: {checks['registrations_double_decided']} "
                            "registrations decided twice")
        if "deals_expected" in checks:
            if checks["deals_paid"] != checks["deals_expected"]:
                problems.append(f"{result.label}: {checks['deals_paid']} of "
                                f"{checks['deals_expected']} deals paid")
            if checks["invoices_paid"] != checks["invoices_expected"]:
                problems.append(f"{result.label}: {checks['invoices_paid']} of "
                                f"{checks['invoices_expected']} invoices paid")
            if checks["payouts_double"]:
                problems.append(f"{result.label}: {checks['payouts_double']} double payouts")
            if checks["payouts_withheld"]:
                problems.append(f"{result.label}: payouts withheld {checks['payouts_withheld']}")
        for phase in ("latency_200", "latency"):
            if f"{phase}_expected" in checks and (
                    checks[f"{phase}_approved"] != checks[f"{phase}_expected"]):
                problems.append(f"{result.label}: {checks[f'{phase}_approved']} of "
                                f"{checks[f'{phase}_expected']} {phase} registrations approved")
        if not checks.get("stack_clean_exit", True):
            problems.append(f"{result.label}: dealreg up exited with "
                            f"{checks.get('stack_exit_code')}")
    return {"passed": not problems, "problems": problems}


def combine(main: StackResult, scale: Sequence[StackResult]) -> dict[str, Any]:
    figures: dict[str, Any] = dict(main.figures)
    raw_b = figures.get("raw_aggregate_writes_per_s") or 0.0
    figures["e2e_ratio"] = figures["e2e_registrations_per_s"] / raw_b if raw_b else None
    raw_read = figures.get("raw_log_read_per_s") or 0.0
    figures["rebuild_ratio"] = (figures["rebuild_events_per_s"] / raw_read
                                if raw_read and "rebuild_events_per_s" in figures else None)
    figures["peak_rss_registrations"] = main.registrations
    figures["scale_cost_growth"] = None
    if len(scale) == 2:
        small, large = scale
        figures["scale_small_n"] = small.registrations
        figures["scale_large_n"] = large.registrations
        figures["scale_small_registrations_per_s"] = small.figures["e2e_registrations_per_s"]
        figures["scale_large_registrations_per_s"] = large.figures["e2e_registrations_per_s"]
        per_small = small.figures["e2e_seconds"] / small.registrations
        per_large = large.figures["e2e_seconds"] / large.registrations
        figures["scale_cost_growth"] = per_large / per_small
        figures["peak_rss_mb"] = large.figures["peak_rss_mb"]
        figures["peak_rss_registrations"] = large.registrations
        figures["main_run_peak_rss_mb"] = main.figures["peak_rss_mb"]
    return figures


def _number(value: float, unit: str) -> str:
    if unit == "ms" and abs(value) < 10:
        return f"{value:,.2f}"
    if unit in ("ms", "MB", "x"):
        return f"{value:,.2f}" if unit == "x" else f"{value:,.1f}"
    return f"{value:,.0f}"


def _label(spec: Target, figures: dict[str, Any], sizes: dict[str, Any]) -> str:
    if spec.key.startswith("scale_small"):
        return f"scale: e2e at N={figures.get('scale_small_n', '-')}"
    if spec.key.startswith("scale_large"):
        return f"scale: e2e at N={figures.get('scale_large_n', '-')}"
    if spec.key == "peak_rss_mb":
        return f"peak RSS of dealreg up (N={figures.get('peak_rss_registrations')})"
    if spec.key.startswith("latency_200_"):
        return spec.label.replace("the calm rate", f"{sizes.get('calm_rate_per_s', 0):g}/s")
    if spec.key.startswith("latency_"):
        return spec.label.replace("the high rate", f"{sizes.get('rate_per_s', 0):g}/s")
    return spec.label


def assess(figures: dict[str, Any], sizes: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure of :data:`TARGETS` with its target, its ratio (to the raw limit of the
    same run, or to its target) and its status: PASS, FAIL, info (no target) or not run."""
    rows = []
    for spec in TARGETS:
        value = figures.get(spec.key)
        row: dict[str, Any] = {"key": spec.key, "label": _label(spec, figures, sizes),
                               "value": value, "unit": spec.unit, "target": None,
                               "ratio": None, "ratio_to": None, "status": "info"}
        sign = ">=" if spec.higher_is_better else "<="
        if value is None:
            row["status"] = "not run"
        elif spec.target is not None:
            row["target"] = f"{sign} {_number(spec.target, spec.unit)} {spec.unit}"
            row["ratio"], row["ratio_to"] = value / spec.target, "target"
            ok = value >= spec.target if spec.higher_is_better else value <= spec.target
            row["status"] = "PASS" if ok else "FAIL"
        elif spec.ratio_key is not None and figures.get(spec.ratio_key) is not None:
            row["ratio"], row["ratio_to"] = figures[spec.ratio_key], "raw limit"
            if spec.ratio_target is not None:
                row["target"] = f"ratio >= {spec.ratio_target}"
                row["status"] = "PASS" if row["ratio"] >= spec.ratio_target else "FAIL"
        rows.append(row)
    return rows


def table(assessed: list[dict[str, Any]], checks: dict[str, Any]) -> str:
    rows = [("figure", "value", "unit", "target", "ratio", "status")]
    for figure in assessed:
        value = ("not run" if figure["value"] is None
                 else _number(figure["value"], figure["unit"]))
        ratio = ("-" if figure["ratio"] is None
                 else f"{figure['ratio']:.3f} of {figure['ratio_to']}")
        rows.append((figure["label"], value, figure["unit"], figure["target"] or "-", ratio,
                     figure["status"]))
    verdict = "PASS" if checks["passed"] else "FAIL: " + "; ".join(checks["problems"])
    rows.append(("correctness: all decided, payouts once", "", "", "", "", verdict))
    widths = [max(len(str(row[i])) for row in rows) for i in range(6)]
    lines = []
    for index, row in enumerate(rows):
        cells = [str(cell).ljust(width) if i in (0, 2, 3, 5) else str(cell).rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


async def run(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    url = os.environ.get("DEALREG_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    base = bench_settings(url).with_overrides(up_processes=not args.one_process)
    options = RunOptions(registrations=args.registrations, deals=args.deals, rate=args.rate,
                         calm_rate=args.calm_rate, duration_s=args.duration,
                         partners=args.partners, base=base,
                         work_dir=work_dir, profile=args.profile,
                         stall_s=60.0 if args.quick else 180.0)
    started = time.monotonic()
    config = configuration(base, args)
    main = await StackBench("main", args.registrations, options, Phases()).execute()
    scale: list[StackResult] = []
    if args.scale:  # the issue measures growth and memory on the one-process stack
        one_process = replace(options, base=base.with_overrides(up_processes=False))
        for size in args.scale_sizes:
            scale.append(await StackBench(f"scale-{size}", size, one_process,
                                          Phases(raw=False, payouts=False, latency=False,
                                                 rebuild=False)).execute())
    checks = correctness(main, scale)
    figures = combine(main, scale)
    return {
        **figures,
        "targets": assess(figures, config["sizes"]),
        "correctness": checks,
        "checks": {result.label: result.checks for result in (main, *scale)},
        "details": {result.label: result.details for result in (main, *scale)},
        "profiles": {f"{result.label}:{phase}": summary for result in (main, *scale)
                     for phase, summary in result.profiles.items()},
        "config": config,
        "bench_seconds": round(time.monotonic() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quick:
        (args.registrations, args.deals, args.calm_rate, args.rate, args.duration,
         args.partners) = (300, 100, 20.0, 50.0, 3.0, 10)
        args.scale_sizes = (100, 1_000) if args.scale else args.scale_sizes
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as temp:
        work_dir = args.work_dir or Path(temp)
        work_dir.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(run(args, work_dir))
    print(table(results["targets"], results["correctness"]))
    cfg = results["config"]
    services = cfg["services"]
    print(f"\nconfiguration: partitions {services['partitions']}, consumer batch "
          f"{services['batch_max_records']} records / {services['batch_timeout_ms']} ms, outbox "
          f"batch {services['outbox_batch_size']}, PostgreSQL synchronous_commit "
          f"{cfg['postgres']['synchronous_commit']}, fsync {cfg['postgres']['fsync']}; "
          f"main run: {cfg['stack']}; scale runs and peak RSS: {cfg['scale_stack']}; "
          f"{cfg['cpu_count']} CPUs; commit {cfg['git_commit'][:12]}; "
          f"{results['bench_seconds']:.0f} s in all")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n",
                           encoding="utf-8")
    say(f"results written to {args.output}")
    return 0 if results["correctness"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
