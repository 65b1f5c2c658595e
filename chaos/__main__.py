"""``python -m chaos``: the chaos and abuse suite (``make chaos``).

Runs the workload twice on the local broker and a PostgreSQL instance of its own: once
without faults, once under faults (for ``--fault-seconds``), both with the same hostile
messages, then compares each with the reference's expected state and with each other, and
prints a report (also written as JSON). Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos.postgres import OwnPostgres
from chaos.run import (
    RunConfig,
    RunResult,
    dlq_reasons,
    output_keys,
    run,
    summary,
    unmatched_hostile,
)
from dealreg.local_broker import LocalBroker


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--registrations", type=int, default=10_000)
    parser.add_argument("--deals", type=int, default=3_000)
    parser.add_argument("--hostile", type=int, default=300, help="hostile messages")
    parser.add_argument("--fault-seconds", type=float, default=300,
                        help="how long the fault driver runs")
    parser.add_argument("--report", type=Path, default=Path(".dealreg/chaos-report.json"))
    parser.add_argument("--workdir", type=Path, help="service logs (default: a temp dir)")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dealreg-chaos-"))
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=5)  # windows stay open while the suite runs: the expiry scheduler stays out
    tag = uuid.uuid4().hex[:6]
    postgres = OwnPostgres()
    await asyncio.to_thread(postgres.start)
    results: list[RunResult] = []
    try:
        with LocalBroker(port=0) as broker:
            for label, fault_seconds in (("base", 0.0), ("chaos", args.fault_seconds)):
                config = RunConfig(f"c{tag}_{label}", args.seed, args.registrations, args.deals,
                                   args.hostile, fault_seconds, base, workdir)
                print(f"chaos: {label} run ({args.registrations} registrations, {args.deals} "
                      f"deals, {args.hostile} hostile, faults {fault_seconds:.0f} s)…",
                      file=sys.stderr, flush=True)
                results.append(await run(config, broker.bootstrap, postgres))
    finally:
        await asyncio.to_thread(postgres.remove)
    report, problems = compare(results)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2, default=str))
    print_report(report, problems)
    print(f"report: {args.report}; service logs: {workdir}", file=sys.stderr)
    return 1 if problems else 0


def compare(results: list[RunResult]) -> tuple[dict[str, Any], list[str]]:
    base, chaos = results
    problems: list[str] = []
    for result in results:
        name = result.label.rsplit("_", 1)[1]
        problems += [f"{name} vs expected: {d}" for d in result.final.differences(
            result.expected)]
        problems += [f"{name}: same id, other content: {c}" for c in result.conflicting]
        problems += [f"{name}: chain {app}: {r.problem}" for app, r in result.chains.items()
                     if r.problem]
        prefix = f"{result.label}."
        problems += [f"{name}: hostile message not dead-lettered: {m}"
                     for m in unmatched_hostile(result, prefix)]
        problems += [f"{name}: {service} stopped on its own" for service in result.dead]
    problems += [f"chaos vs fault-free: {d}" for d in chaos.final.differences(base.final)]
    for topic in base.outputs:
        lost = output_keys(base, topic) - output_keys(chaos, topic)
        doubled = output_keys(chaos, topic) - output_keys(base, topic)
        problems += [f"{topic}: {len(lost)} event(s) lost under faults"] if lost else []
        problems += [f"{topic}: {len(doubled)} event(s) not in the fault-free run"] if (
            doubled) else []
    for app in base.chain_contents:
        only_base = base.chain_contents[app] - chaos.chain_contents[app]
        only_chaos = chaos.chain_contents[app] - base.chain_contents[app]
        if only_base or only_chaos:
            problems.append(f"chain {app}: other content than the fault-free run: only in it "
                            f"{sorted(only_base)[:3]}, only under faults {sorted(only_chaos)[:3]}")
    report = summary(results) | {
        "dlq_by_reason": dict(dlq_reasons(chaos)),
        "hostile_sent": len(chaos.hostile),
        "restarts_survived": chaos.faults,
        "registrations": len(chaos.final.registrations),
        "disputes": len(chaos.final.disputes),
        "ledger_entries": len(chaos.final.ledger),
        "ledger_total": str(sum(chaos.final.ledger.values())),
        "adjustments": dict(Counter(chaos.final.adjustments.values())),
        "problems": problems,
    }
    return report, problems


def print_report(report: dict[str, Any], problems: list[str]) -> None:
    for label in [key for key in report if key.startswith("c")]:
        run_report = report[label]
        print(f"{label}: {run_report['seconds']} s, in {sum(run_report['events_in'].values())}"
              f" {run_report['events_in']}, out {run_report['events_out']}, republished "
              f"{run_report['republished']}, faults {run_report['faults']}")
    print(f"hostile messages sent: {report['hostile_sent']}; dead letters by reason: "
          f"{report['dlq_by_reason']}")
    print(f"restarts survived: {report['restarts_survived']}")
    print(f"final state: {report['registrations']} registrations, {report['disputes']} "
          f"disputes, {report['ledger_entries']} (deal, partner) payouts totalling "
          f"{report['ledger_total']}; manual adjustments {report['adjustments']}")
    if problems:
        print(f"FAILED: {len(problems)} problem(s)")
        for problem in problems[:50]:
            print(f"  {problem}")
    else:
        print("OK: identical to the fault-free run and to the expected state; nothing lost "
              "or doubled; every hostile message dead-lettered")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(_main(_arguments(argv)))


if __name__ == "__main__":
    sys.exit(main())
