"""``dealreg policy show`` and ``dealreg policy simulate``: the program policy in force, and
what a policy would change before it is published, from the payouts service's store."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dealreg.actions import now
from dealreg.actions.producing import validate_lines
from dealreg.bootstrap import PAYOUTS
from dealreg.cli import kafka
from dealreg.cli.actions import EXPECTED, CommandError, explain, fail
from dealreg.cli.stores import existing_application
from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.events.schemas.values import TIER_ORDER, format_utc
from dealreg.logs import quiet
from dealreg.services.payouts.reports import (
    Change,
    change_document,
    partner_deltas,
    simulate_policy,
    simulation_summary,
)
from dealreg.services.program_policy import in_force, policy_document, stored_policies
from dealreg.settings import Settings


async def run_policy(args: argparse.Namespace, settings: Settings) -> int:
    return await asyncio.to_thread(_run, args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.policy_command == "show":
            return _show(args, settings)
        return _simulate(args, settings)
    except EXPECTED as error:
        return fail(explain(error, settings))


# ------------------------------------------------------------------ show


def _show(args: argparse.Namespace, settings: Settings) -> int:
    at = args.at or now()
    app = existing_application(PAYOUTS, settings)
    try:
        policy = in_force(stored_policies(app), at)
    finally:
        app.close()
    document = policy_document(policy)
    print(json.dumps(document, indent=2) if args.json else policy_text(document, at))
    return 0


def policy_text(document: Mapping[str, Any], at: datetime) -> str:
    """A policy document as a person reads it."""
    retroactive = ", retroactive" if document["retroactive"] else ""
    split = document["co_sell_split"]
    return "\n".join([
        f"policy {document['policy_id']} version {document['version']}, in force at "
        f"{format_utc(at)} (effective from {document['effective_from']}{retroactive})",
        "",
        *_table("protection window (days)", document["registration_window_days"]),
        *_table("first-year commission rate", document["commission_rates"]),
        *_table("revenue share rate", document["revenue_share_rates"]),
        *_table("open registrations allowed", document["registration_capacity"]),
        f"longest protection, extensions included: {document['max_total_days']} days",
        f"longest single extension: {document['max_extension_days']} days",
        f"co-sell split: partner-sourced {split['partner_sourced']}, "
        f"direct-sourced {split['direct_sourced']}",
        f"holding period before billing pays: {document['holding_days']} days",
        f"months a deal's invoices earn revenue share: {document['revenue_share_months']}",
        *_bonuses(document["tier_bonuses"]),
    ])


def _table(title: str, cells: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One row per program, one column per tier; an empty cell (no limit) as ``no limit``."""
    rows = [f"{title:<28}" + "".join(f"{tier:>10}" for tier in TIER_ORDER)]
    for program, values in cells.items():
        rows.append(f"  {program:<26}" + "".join(
            f"{'no limit' if values.get(tier) is None else values[tier]:>10}"
            for tier in TIER_ORDER))
    return [*rows, ""]


def _bonuses(bonuses: list[Mapping[str, Any]]) -> list[str]:
    if not bonuses:
        return ["tier bonuses: none"]
    return ["tier bonuses:", *(
        f"  +{bonus['rate']} for partners {bonus['tier']} or higher on "
        f"{bonus['qualify_by']}, on deals closed from {bonus['closed_from']} to "
        f"{bonus['closed_to']}" for bonus in bonuses)]


# ------------------------------------------------------------------ simulate


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    data = policy_of_file(args.file)
    app = existing_application(PAYOUTS, settings)
    try:
        with quiet("dealreg.services"):  # what the service would log of the simulated facts
            changes = simulate_policy(app, data)
    finally:
        app.close()
    summary = simulation_summary(data, changes)
    if args.json:
        print(json.dumps([change_document(change) for change in changes or []], indent=2))
        print(summary, file=sys.stderr)
    else:
        print("\n".join([*_changes_text(changes or []), summary]))
    return 0


def policy_of_file(file: str) -> PolicyPublished:
    """The one ``policy.published`` CloudEvent of a JSON-lines file (``-``: stdin),
    validated as ``dealreg publish program.v1 FILE`` validates it."""
    where = "stdin" if file == "-" else file
    messages, errors = validate_lines("program.v1", kafka.read_lines(file))
    if errors:
        more = f" (and {len(errors) - 1} more invalid lines)" if len(errors) > 1 else ""
        raise CommandError(f"{where} {errors[0]}{more}; nothing was simulated")
    if len(messages) != 1:
        raise CommandError(f"{where} holds {len(messages)} events; policy simulate takes "
                           "exactly one policy.published CloudEvent")
    data = messages[0].event.data
    assert isinstance(data, PolicyPublished)  # the only event of program.v1
    return data


def _changes_text(changes: list[Change]) -> list[str]:
    if not changes:
        return []
    lines = [f"{'deal':<14} {'partner':<16} {'now':>18} {'with the policy':>18} "
             f"{'change':>18}"]
    lines += [f"{c.deal_id:<14} {c.partner_id:<16} {c.current:>14f} {c.currency} "
              f"{c.simulated:>14f} {c.currency} {c.delta:>+14f} {c.currency}"
              for c in changes]
    lines.append("per partner:")
    lines += [f"  {partner_id:<16} {delta:>+14f} {currency}"
              for (partner_id, currency), delta in sorted(partner_deltas(changes).items())]
    return lines


