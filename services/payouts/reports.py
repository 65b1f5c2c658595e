"""Billing and sales-ops views of the payouts service's store: a deal's payouts, a dry-run
recomputation of every deal, a partner's statement, and what a policy would change if it
were published. Read-only."""

from __future__ import annotations

import copy
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dealreg.audit import business_fields
from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.events.schemas.outputs import PayoutAdjusted, PayoutCalculated
from dealreg.eventstore import ServiceApplication
from dealreg.processing import UnitOfWork
from dealreg.services.payouts.domain import PAYOUT_EVENTS, DealPayouts, payout_event
from dealreg.services.payouts.emissions import emit
from dealreg.services.payouts.reconciliation import (
    account,
    deal_payouts,
    deals_a_policy_recomputes,
    entitlements,
    invoices_of,
)
from dealreg.services.program_policy import policy_book, publish_policy


class NotFoundError(LookupError):
    """The deal is not in the store."""


def _payout_entry(event: Any) -> dict[str, Any]:
    entry = business_fields(event)
    entry["event"] = {DealPayouts.Calculated: "payout.calculated",
                      DealPayouts.Adjusted: "payout.adjusted",
                      DealPayouts.Withheld: "payout.withheld"}[type(event)]
    return entry


def show(app: ServiceApplication, deal_id: str) -> dict[str, Any]:
    """Every payout event of the deal, with its basis and the facts behind it."""
    payouts = app.get_or_none(DealPayouts.create_id(deal_id))
    if not isinstance(payouts, DealPayouts):
        raise NotFoundError(f"no closed deal {deal_id!r}")
    deal = payouts.deal
    unit = UnitOfWork(app)
    facts = account(unit, deal.account_key)
    return {
        "deal": {"deal_id": deal.deal_id, "account_key": deal.account_key,
                 "closed_at": deal.closed_at, "first_year_value": deal.value,
                 "currency": deal.currency, "registration_id": deal.registration_id,
                 "co_sell": deal.co_sell, "co_sell_partner_id": deal.co_sell_partner_id,
                 "won": deal.won, "refunded_at": payouts.refunded_at},
        "events": [_payout_entry(payout_event(e)) for e in app.events.get(payouts.id)
                   if isinstance(e, (*PAYOUT_EVENTS, DealPayouts.Withheld))],
        "owed": {partner: payouts.emitted_total(partner) for partner in payouts.emitted},
        "invoices": [vars(invoice) for invoice in invoices_of(unit, deal_id)],
        "manual_adjustments": [
            {"adjustment_id": adjustment_id, "partner_id": partner_id, "amount": amount}
            for partner_id, adjustments in payouts.manual.items()
            for adjustment_id, amount in adjustments],
        "account_facts": {
            "registrations": [vars(p) for p in facts.protections.values()],
            "open_disputes": sorted(facts.open_disputes)},
    }


def correct_totals(unit: UnitOfWork, payouts: DealPayouts) -> dict[str, Decimal]:
    """Each partner's correct total of the deal under every fact ``unit`` knows (§6, §10)."""
    owed, _ = entitlements(unit, payouts)
    return {partner_id: entitled.total for partner_id, entitled in owed.items()}


def recompute(app: ServiceApplication) -> list[dict[str, Any]]:
    """Recompute every deal from the stored facts; each (deal, partner) whose emitted sum
    differs from the correct amount (there should be none). Stores nothing."""
    differences = []
    for closed in app.stored_events(DealPayouts.Closed, DealPayouts.ClosedAndCalculated):
        payouts = app.get_or_none(DealPayouts.create_id(closed.deal_id))
        assert isinstance(payouts, DealPayouts)
        correct = correct_totals(UnitOfWork(app), payouts)
        for partner_id in sorted(set(payouts.emitted) | set(correct)):
            emitted = payouts.emitted_total(partner_id)
            expected = correct.get(partner_id, Decimal("0.00"))
            if emitted != expected:
                differences.append({"deal_id": closed.deal_id, "partner_id": partner_id,
                                    "emitted": emitted, "correct": expected})
    return differences


def statement(app: ServiceApplication, partner_id: str, start: date, end: date
              ) -> dict[str, Any]:
    """A partner's payout events dated from ``start`` to ``end`` (inclusive): deals closed
    then, and adjustments decided then, with totals per currency."""
    rows = []
    for stored in app.stored_events(*PAYOUT_EVENTS):
        event = payout_event(stored)
        if event.partner_id != partner_id:
            continue
        when: datetime = (event.invoiced_at or event.closed_at
                          if isinstance(event, DealPayouts.Calculated) else event.decided_at)
        if not start <= when.date() <= end:
            continue
        amount = event.total if isinstance(event, DealPayouts.Calculated) else event.delta
        rows.append({"date": when.date(), "deal_id": event.deal_id,
                     "event": _payout_entry(event)["event"], "payout_id": event.payout_id,
                     "sequence": event.sequence,
                     "reason": getattr(event, "reason", ""), "amount": amount,
                     "currency": event.currency,
                     "lines": "; ".join(f"{line['kind']} {line['amount']}"
                                        for line in event.lines)})
    rows.sort(key=lambda row: (row["date"], row["deal_id"], row["sequence"]))
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], Decimal("0.00")) + row["amount"]
    return {"partner_id": partner_id, "from": start, "to": end, "rows": rows,
            "totals": totals}


def due(app: ServiceApplication, until: date) -> list[dict[str, Any]]:
    """Every payout event billing received whose ``payable_on`` is ``until`` or earlier, as
    it received it (its name and its payouts.v1 data), with the amount it moves (a payout's
    total, an adjustment's delta): by ``payable_on``, deal, partner and sequence."""
    rows = []
    for event in app.stored_events(*PAYOUT_EVENTS):
        for emission in emit(event):
            data = emission.data
            assert isinstance(data, PayoutCalculated | PayoutAdjusted)
            if data.payable_on <= until:
                amount = data.total if isinstance(data, PayoutCalculated) else data.delta
                rows.append({"event": emission.name, "amount": amount.model_dump(mode="json"),
                             **data.model_dump(mode="json")})
    return sorted(rows, key=lambda row: (row["payable_on"], row["deal_id"], row["partner_id"],
                                         row["sequence"]))


def statement_csv(result: dict[str, Any]) -> str:
    """A :func:`statement` as CSV: a header, then one line per row."""
    out = io.StringIO()
    columns = ["date", "deal_id", "event", "payout_id", "sequence", "reason", "amount",
               "currency", "lines"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in result["rows"]:
        writer.writerow({key: row[key] for key in columns})
    return out.getvalue().rstrip("\n")


@dataclass(frozen=True)
class Change:
    """A (deal, partner) whose correct total a policy would change."""

    deal_id: str
    partner_id: str
    currency: str
    current: Decimal
    simulated: Decimal

    @property
    def delta(self) -> Decimal:
        return self.simulated - self.current


def simulate_policy(app: ServiceApplication, data: PolicyPublished) -> list[Change] | None:
    """Every (deal, partner) whose correct total would change if ``data`` were published
    now, as the payouts service would recompute it; None when that version of the policy is
    already published (publishing it again changes nothing). Stores nothing: the policy is
    added to a copy of the policy book, in memory only."""
    now, then = UnitOfWork(app), UnitOfWork(app)
    then.add(copy.deepcopy(policy_book(now)))
    policy = publish_policy(then, data)
    if policy is None:
        return None
    return [change for deal_id in deals_a_policy_recomputes(then, policy)
            for change in _changes(now, then, deal_id)]


def _changes(now: UnitOfWork, then: UnitOfWork, deal_id: str) -> list[Change]:
    payouts = deal_payouts(now, deal_id, "deal_id")
    current, simulated = correct_totals(now, payouts), correct_totals(then, payouts)
    zero = Decimal("0.00")
    return [Change(deal_id, partner_id, payouts.deal.currency, current.get(partner_id, zero),
                   simulated.get(partner_id, zero))
            for partner_id in sorted(set(current) | set(simulated))
            if current.get(partner_id, zero) != simulated.get(partner_id, zero)]


def change_document(change: Change) -> dict[str, Any]:
    """A change as JSON values: the current, simulated and delta totals as money."""
    return {"deal_id": change.deal_id, "partner_id": change.partner_id,
            "current_total": _money(change.current, change.currency),
            "simulated_total": _money(change.simulated, change.currency),
            "delta": _money(change.delta, change.currency)}


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(amount, "f"), "currency": currency}


def partner_deltas(changes: list[Change]) -> dict[tuple[str, str], Decimal]:
    """The sum of the deltas of each (partner, currency)."""
    sums: dict[tuple[str, str], Decimal] = {}
    for change in changes:
        key = (change.partner_id, change.currency)
        sums[key] = sums.get(key, Decimal("0.00")) + change.delta
    return sums


def simulation_summary(data: PolicyPublished, changes: list[Change] | None) -> str:
    """What :func:`simulate_policy` found, in a sentence."""
    policy = f"policy {data.policy_id} version {data.version}"
    if changes is None:
        return f"{policy} is already published: publishing it again changes nothing"
    if changes:
        return (f"publishing {policy} now would change {len(changes)} payout total(s); "
                "nothing was published")
    if not data.retroactive:
        return (f"publishing {policy} now would change no payout: it is not retroactive, "
                "so it applies only to deals closed after its publication")
    return f"publishing {policy} now would change no payout"
