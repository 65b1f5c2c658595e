"""Read-only views for sales ops and billing, as text or ``--json``: ``dealreg disputes …``,
``dealreg accounts show`` and ``dealreg payouts …``."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dealreg.cli.stores import existing_application
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

    app = existing_application(PAYOUTS, settings)
    try:
        if args.payouts_command == "show":
            result: Any = reports.show(app, args.deal_id)
            text = _deal_text(result)
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


def _deal_text(shown: dict[str, Any]) -> str:
    """``payouts show`` as billing reads it (``--json`` for every field)."""
    deal = shown["deal"]
    lines = [f"deal {deal['deal_id']}: {'won' if deal['won'] else 'lost'} "
             f"{_text(deal['closed_at'])}, first-year value {deal['first_year_value']} "
             f"{deal['currency']}, account {deal['account_key']}, registration "
             f"{deal['registration_id'] or '-'}"
             + (f", co-sell with {deal['co_sell_partner_id']}" if deal["co_sell"] else "")
             + (f", refunded {_text(deal['refunded_at'])}" if deal["refunded_at"] else "")]
    for event in shown["events"]:
        lines.append(_payout_line(event, deal["currency"]))
        for line in event.get("lines", []):
            lines.append(f"      {line['kind']:14} {_text(line['base'])} x rate "
                         f"{line['rate']} x share {line['share']} = {_text(line['amount'])}")
    for partner, total in sorted(shown["owed"].items()):
        lines.append(f"  owed to {partner}: {total} {deal['currency']}")
    for invoice in shown["invoices"]:
        lines.append(f"  invoice {invoice['invoice_id']} {invoice['period_start']} to "
                     f"{invoice['period_end']}: {invoice['recurring_revenue']} "
                     f"{invoice['currency']}, invoiced {_text(invoice['invoiced_at'])}")
    for manual in shown["manual_adjustments"]:
        lines.append(f"  manual adjustment {manual['adjustment_id']} for "
                     f"{manual['partner_id']}: {manual['amount']} {deal['currency']}")
    return "\n".join(lines)


def _payout_line(event: dict[str, Any], currency: str) -> str:
    name = event["event"]
    if name == "payout.withheld":
        return f"  {name:18} {_text(event['closed_at'])}: no partner ({event['reason']})"
    basis = event.get("basis") or {}
    why = f"{basis.get('program')} {basis.get('tier')}, {basis.get('sourced')}"
    payable = f", payable on {event['payable_on']}" if event.get("payable_on") else ""
    if name == "payout.calculated":
        invoice = f" invoice {event['invoice_id']}" if event.get("invoice_id") else ""
        return (f"  {name:18} #{event['sequence']} {event['partner_id']}: "
                f"{event['total']} {currency}{invoice}{payable} ({why})")
    clawback = ", clawback" if event.get("clawback") else ""
    return (f"  {name:18} #{event['sequence']} {event['partner_id']}: {event['delta']} "
            f"{currency} ({event['reason']}), new total {event['new_total']}{payable}"
            f"{clawback}, {_text(event['decided_at'])}")


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

    app = existing_application(CONFLICT, settings)
    try:
        if args.command == "accounts":
            as_of = args.as_of or datetime.now(UTC).replace(microsecond=0)
            result: Any = salesops.account_as_of(app, args.account, as_of, args.country)
            text = _account_text(result)
        elif args.disputes_command == "list":
            result = salesops.list_disputes(app, open_only=args.open)
            text = _disputes_text(result)
        elif args.disputes_command == "show":
            result = salesops.dispute_view(app, args.dispute_id, datetime.now(UTC))
            text = _dispute_text(result)
        else:
            result = salesops.replay(app, args.dispute_id)
            text = "\n".join(
                [f"dispute {result['dispute_id']} on account {result['account_key']}: "
                 + ("every decision reproduced" if result["reproduced"] else "DIFFERENCES")]
                + [f"  {'ok  ' if d['reproduced'] else 'DIFF'} {d['registration_id']} "
                   f"(rule {d['rule']}): recorded {_decision(d['recorded'])}; replayed "
                   f"{_decision(d['replayed'])}"
                   for d in result["decisions"]])
    except salesops.NotFoundError as missing:
        print(f"dealreg: {missing}", file=sys.stderr)
        return 1
    except ValueError as error:  # an account that is neither a key nor a domain
        if args.command != "accounts":
            raise
        looks_like_a_domain = "." in args.account and not any(
            character.isspace() or character == "," for character in args.account)
        why = f" ({str(error).partition(': ')[2]})" if looks_like_a_domain else ""
        print(f"dealreg: {args.account!r} is not a domain{why}; an account without a "
              f"domain is its company name and country: dealreg accounts show "
              f"{shlex.quote(args.account)} --country CC", file=sys.stderr)
        return 1
    finally:
        app.close()
    print(_json(result) if args.json else text)
    reproduced = not isinstance(result, dict) or result.get("reproduced", True)
    return 0 if reproduced else 1


def _decision(decision: Sequence[Any]) -> str:
    """A claim decision of a replay, in words: ``granted until …``, ``denied (reason,
    against r-1)``, ``joined dispute x-1``, ``opened a dispute (kind)``."""
    outcome, *details = decision
    if outcome == "granted":
        return f"granted until {_text(details[0])}"
    if outcome == "denied":
        reason, against = details
        return f"denied ({reason}" + (f", against {against})" if against else ")")
    if outcome == "join":
        return f"joined dispute {details[0]}"
    return f"opened a dispute ({details[0]})"


def _disputes_text(disputes: list[dict[str, Any]]) -> str:
    if not disputes:
        return "no disputes"
    ids, accounts = _width(disputes, "dispute_id", 7), _width(disputes, "account_key", 7)
    lines = [f"{'DISPUTE':{ids}}  {'STATUS':7}  {'KIND':23}  {'OPENED (UTC)':20}  "
             f"{'ACCOUNT':{accounts}}  REGISTRATIONS"]
    lines += [f"{d['dispute_id']:{ids}}  {d['status']:7}  {d['kind']:23}  "
              f"{_text(d['opened_at']):20}  {d['account_key']:{accounts}}  "
              f"{', '.join(d['registration_ids'])}" for d in disputes]
    return "\n".join(lines)


def _width(rows: list[dict[str, Any]], column: str, at_least: int = 0) -> int:
    """The width of a text column: its longest value."""
    return max([at_least, *(len(str(row[column])) for row in rows)])


def _dispute_text(view: dict[str, Any]) -> str:
    lines = [f"dispute {view['dispute_id']}: {view['status']}, {view['kind']}, on account "
             f"{view['account_key']}, opened {_text(view['opened_at'])}"]
    if view["why"]:
        lines.append(f"  rule        {view['why']}")
    for party in view["parties"]:
        lines.append(f"  party       {party['registration_id']} of {party['partner_id']}, "
                     f"submitted {_text(party['submitted_at'])}, now {party['state']}")
    if view["opportunity_ids"]:
        lines.append(f"  direct      opportunities {', '.join(view['opportunity_ids'])}")
    for case in view["evidence"]:
        lines.append(f"  case        {case['registration_id']} ({case['partner_id']}), "
                     f"raised {_text(case['raised_at'])}: {case['evidence']}")
    resolution = view["resolution"]
    if resolution is not None:
        lines.append(f"  resolved    {_text(resolution['settled_at'])} by "
                     f"{resolution['resolved_by'] or '-'} for {_winner(resolution['winner'])}: "
                     f"{resolution['rationale'] or '-'}")
    lines.append("  timeline")
    for entry in view["timeline"]:
        lines.append(f"    {_text(entry['time']):22} {entry['event']:18} {_facts(entry['facts'])}")
        if entry["why"]:
            lines.append(f"    {'':41}{entry['why']}")
    return "\n".join(lines)


def _winner(winner: dict[str, Any]) -> str:
    return "the direct team" if winner.get("direct") else str(winner.get("registration_id"))


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
    claims = result["registrations"]
    ids = _width(claims, "registration_id")
    partners = _width(claims, "partner_id")
    for claim in claims:
        lines.append(f"  {claim['registration_id']:{ids}} {claim['partner_id']:{partners}} "
                     f"{claim['status']}")
    if result["open_opportunities"]:
        lines.append(f"  open direct opportunities: {', '.join(result['open_opportunities'])}")
    return "\n".join(lines)
