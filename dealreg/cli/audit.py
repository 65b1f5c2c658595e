"""``dealreg audit …`` for auditors: history, hash-chain verification, export."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from dealreg import audit
from dealreg.cli.stores import existing_service_stores
from dealreg.eventstore import ServiceApplication
from dealreg.settings import Settings


async def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    return await asyncio.to_thread(_run_audit, args, settings)


def _run_audit(args: argparse.Namespace, settings: Settings) -> int:
    with existing_service_stores(settings) as apps:
        if args.audit_command == "history":
            events = audit.history(apps, args.id)
            if not events:
                print(f"dealreg: no stored event names {args.id!r}", file=sys.stderr)
                return 1
            for event in events:
                print(json.dumps(event, ensure_ascii=False) if args.json else _line(event))
            return 0
        if args.audit_command == "verify":
            return _verify(apps, settings)
        out = Path(args.output).open("w") if args.output else sys.stdout  # noqa: SIM115
        try:
            count = 0
            for record in audit.export(apps):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if out is not sys.stdout:
                out.close()
        print(f"exported {count} events", file=sys.stderr)
        return 0


def _line(event: dict[str, object]) -> str:
    data = json.dumps(event["data"], ensure_ascii=False, sort_keys=True)
    return (f"{event['time']}  {event['application']:<12} #{event['position']:<7} "
            f"{event['type']:<28} hash {str(event['hash'])[:16]}…  {data}")


def _verify(apps: dict[str, ServiceApplication], settings: Settings) -> int:
    """Exit 1 when a chain is broken, and when there is nothing to verify: stores without
    a single event are more likely the wrong place than a verified history."""
    failed, events = False, 0
    for name, app in apps.items():
        report = audit.verify(name, app)
        events += report.events
        if report.problem:
            failed = True
            print(f"{name}: FAILED after {report.events} good events: {report.problem}")
        else:
            print(f"{name}: ok, {report.events} events, head {report.head}")
    if not events:
        print(f"dealreg: nothing to verify: the stores hold no event "
              f"({settings.store_description()}); check --store or --data-dir",
              file=sys.stderr)
        return 1
    return 1 if failed else 0
