"""Read-only views for sales ops and billing, as text or ``--json``: ``dealreg disputes …``,
``dealreg accounts show`` and ``dealreg payouts …``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from dealreg.settings import Settings


def _json(value: Any) -> str:
    def default(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if isinstance(item, set | frozenset | tuple):
            return sorted(item) if isinstance(item, set | frozenset) else list(item)
        return str(item)

    return json.dumps(value, default=default, indent=2, ensure_ascii=False)


async def run_salesops(args: argparse.Namespace, settings: Settings) -> int:
    return await asyncio.to_thread(_run, args, settings)


async def run_payouts(args: argparse.Namespace, settings: Settings) -> int:
    return await asyncio.to_thread(_run_payouts, args, settings)


def _run_payouts(args: argparse.Namespace, settings: Settings) -> int:
    from dealreg.bootstrap import PAYOUTS
    from dealreg.services.payouts import reports

    app = PAYOUTS.build_application(settings)
    try:
        if args.payouts_command == "show":
            result: Any = reports.show(app, args.deal_id)
            text = _json(result)
        elif args.payouts_command == "recompute":
            result = reports.recompute(app)
            text = "\n".join(f"{d['deal_id']} {d['partner_id']}: emitted {d['emitted']}, "
                             f"correct {d['correct']}" for d in result) or (
                "every (deal, partner) sum equals the correct amount")
        else:
            result = reports.statement(app, args.partner_id, args.start, args.end)
            text = reports.statement_csv(result) if args.csv else _statement_text(result)
    except reports.NotFoundError as missing:
        print(f"dealreg: {missing}", file=sys.stderr)
        return 1
    finally:
        app.close()
    print(_json(result) if args.json else text)
    return 1 if args.payouts_command == "recompute" and result else 0


def _statement_text(result: dict[str, Any]) -> str:
    lines = [f"statement of {result['partner_id']} from {result['from']} to {result['to']}"]
    for row in result["rows"]:
        lines.append(f"  {row['date']}  {row['deal_id']:10} {row['event']:18} "
                     f"{row['amount']:>14} {row['currency']}  {row['reason']}")
    for currency, total in sorted(result["totals"].items()):
        lines.append(f"  total {total} {currency}")
    return "\n".join(lines)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dealreg.bootstrap import CONFLICT
    from dealreg.services.conflict import salesops

    app = CONFLICT.build_application(settings)
    try:
        if args.command == "accounts":
            result: Any = salesops.account_as_of(app, args.account,
                                                 args.as_of or datetime.now(UTC))
            text = _account_text(result)
        elif args.disputes_command == "list":
            result = salesops.list_disputes(app, open_only=args.open)
            text = "\n".join(
                f"{d['dispute_id']}  {d['status']:7}  {d['kind']:24}  {d['account_key']}  "
                f"registrations {', '.join(d['registration_ids'])}" for d in result
            ) or "no disputes"
        elif args.disputes_command == "show":
            result = salesops.timeline(app, args.dispute_id)
            text = "\n".join(
                [f"account {result['account_key']}"] + [
                    f"{_text(e['time']):22} {e['event']:18} "
                    f"{_facts(e['facts'])}" + (f"\n{'':41}{e['why']}" if e["why"] else "")
                    for e in result["timeline"]])
        else:
            result = salesops.replay(app, args.dispute_id)
            text = "\n".join(
                [f"account {result['account_key']}: "
                 + ("every decision reproduced" if result["reproduced"] else "DIFFERENCES")]
                + [f"  {'ok  ' if d['reproduced'] else 'DIFF'} {d['registration_id']}: "
                   f"recorded {d['recorded']}, replayed {d['replayed']}"
                   for d in result["decisions"]])
    except salesops.NotFoundError as missing:
        print(f"dealreg: {missing}", file=sys.stderr)
        return 1
    finally:
        app.close()
    print(_json(result) if args.json else text)
    reproduced = not isinstance(result, dict) or result.get("reproduced", True)
    return 0 if reproduced else 1


def _text(value: Any) -> str:
    """One value as a person reads it, on one line: text and times (UTC, with Z) as they
    are, anything else (numbers, lists, mappings) as compact JSON."""
    decoded = json.loads(_json(value))
    return decoded if isinstance(decoded, str) else json.dumps(decoded, ensure_ascii=False)


def _facts(facts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in facts.items()
                     if v not in (None, [], {}))


def _account_text(result: dict[str, Any]) -> str:
    holder = result["holder"]
    lines = [f"account {result['account_key']} as of {_text(result['as_of'])}"]
    if holder is None:
        lines.append("  nobody holds it")
    else:
        lines.append(f"  held by {holder['registration_id']} ({holder['partner_id']}) from "
                     f"{_text(holder['protected_from'])} to "
                     f"{_text(holder['expires_at'])}: {holder['why']}")
    for claim in result["registrations"]:
        lines.append(f"  {claim['registration_id']:12} {claim['partner_id']:12} "
                     f"{claim['status']}")
    if result["open_opportunities"]:
        lines.append(f"  open direct opportunities: {', '.join(result['open_opportunities'])}")
    return "\n".join(lines)
