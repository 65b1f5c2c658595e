"""``dealreg projections …`` and ``dealreg partners …``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from dealreg.bootstrap import service_stores
from dealreg.cli.stores import existing_read_store, existing_service_stores
from dealreg.projections import all_projections, partners_view
from dealreg.projections.runner import Projector, progress_bar
from dealreg.projections.store import ReadStore
from dealreg.settings import Settings


async def run_projections(args: argparse.Namespace, settings: Settings) -> int:
    projections = all_projections()
    chosen = [projections[args.name]] if getattr(args, "name", None) else list(
        projections.values())
    reading = args.projections_command == "status"  # only reads: creates nothing
    with existing_service_stores(settings) as apps:
        store = await asyncio.to_thread(existing_read_store if reading else ReadStore.open,
                                        settings)
        projector = Projector(store, apps)
        try:
            if args.projections_command == "status":
                lags = await asyncio.to_thread(projector.status, chosen)
                for lag in lags:
                    print(f"{lag.projection:<21} {lag.source:<13} at {lag.position:>9} of "
                          f"{lag.head:>9}  behind {lag.behind}")
                return 0
            if args.projections_command == "rebuild":
                applied = await asyncio.to_thread(projector.rebuild, chosen, progress_bar())
                for name, events in applied.items():
                    print(f"{name}: rebuilt from {events} events", file=sys.stderr)
            if args.projections_command == "follow" or getattr(args, "follow", False):
                await follow(projector, chosen)
            return 0
        finally:
            store.close()


async def follow(projector: Projector, projections: list[Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("dealreg projections: following the event stores, Ctrl-C stops", file=sys.stderr)
    await projector.follow(projections, stop)


async def follow_projections(settings: Settings, stop: asyncio.Event) -> None:
    """Every projection kept up to date until ``stop`` (``dealreg up``)."""
    with service_stores(settings) as apps:
        store = await asyncio.to_thread(ReadStore.open, settings)
        try:
            await Projector(store, apps).follow(list(all_projections().values()), stop)
        finally:
            store.close()


async def run_partners(args: argparse.Namespace, settings: Settings) -> int:
    store = await asyncio.to_thread(existing_read_store, settings)
    try:
        if args.partners_command == "show":
            result: Any = partners_view.show(store, args.partner_id)
            if result is None:
                print(f"dealreg: no metrics for partner {args.partner_id!r} (unknown partner, "
                      "or projections not built: dealreg projections rebuild)", file=sys.stderr)
                return 1
            print(json.dumps(result, indent=2, ensure_ascii=False) if args.json
                  else partner_text(result))
            return 0
        ranked = partners_view.top(store, args.by, args.limit, args.currency)
    finally:
        store.close()
    if args.json:
        print(json.dumps(ranked, indent=2, ensure_ascii=False))
        return 0
    elsewhere = sorted({currency for partner in ranked
                        for currency in partner["partner_sourced_revenue"]} - {args.currency})
    if elsewhere and not any(args.currency in partner["partner_sourced_revenue"]
                             for partner in ranked):
        print(f"dealreg: no partner-sourced revenue in {args.currency}; there is some in "
              f"{', '.join(elsewhere)} (--currency {elsewhere[0]})", file=sys.stderr)
    print(f"{'partner':<20} {'revenue ' + args.currency:>18} {'win rate':>9} "
          f"{'days to 1st won':>16}")
    for partner in ranked:
        revenue = partner["partner_sourced_revenue"].get(args.currency, "-")
        rate = "-" if partner["win_rate"] is None else f"{partner['win_rate']:.1%}"
        days = partner["days_to_first_won_deal"]
        print(f"{partner['partner_id']!s:<20} {revenue:>18} {rate:>9} "
              f"{'-' if days is None else days:>16}")
    return 0


def partner_text(partner: dict[str, Any]) -> str:
    """``partners show`` as a person reads it (``--json`` for every field as a tool
    reads it)."""

    def money(amounts: dict[str, str]) -> str:
        return ", ".join(f"{amount} {currency}" for currency, amount
                         in sorted(amounts.items())) or "-"

    rejected = ", ".join(f"{count} {reason}" for reason, count
                         in sorted(partner["registrations_rejected"].items()))
    rate = partner["win_rate"]
    days = partner["days_to_first_won_deal"]
    lines = [
        f"partner {partner['partner_id']} ({partner['name']}): {partner['program']} "
        f"{partner['tier']}, enrolled {partner['enrolled_at']}",
        f"  registrations     {partner['registrations_submitted']} submitted, "
        f"{partner['registrations_approved']} approved"
        + (f", rejected: {rejected}" if rejected else ""),
        f"  pipeline          {money(partner['pipeline_value'])}",
        f"  deals won         {partner['deals_won']} "
        f"({partner['partner_sourced_deals_won']} partner-sourced)",
        f"  sourced revenue   {money(partner['partner_sourced_revenue'])}",
        f"  payouts (net)     {money(partner['payouts'])}",
        f"  win rate          {'-' if rate is None else f'{rate:.1%}'}",
        f"  first won deal    {partner['first_won_at'] or '-'}"
        + ("" if days is None else f" ({days} days after enrolment)"),
    ]
    if partner["deals"]:
        lines.append(f"  {'deal':14} {'net':>12} {'value':>12} {'currency':8} "
                     f"{'closed (UTC)':20} sourced")
    for deal in partner["deals"]:
        lines.append(f"  {deal['deal_id']:14} {deal.get('net', '-'):>12} "
                     f"{deal.get('value', '-'):>12} {deal.get('currency', ''):8} "
                     f"{deal.get('closed_at') or '-':20} {deal.get('sourced') or '-'}")
    return "\n".join(lines)
