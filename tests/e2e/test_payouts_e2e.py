"""docs/contract.md §6 end to end: the exact events billing receives on ``payouts.v1``, on the real
local broker with all three services."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.eventstore import ServiceApplication
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.contract import assert_valid_event
from tests.support.kafka import produce
from tests.support.processes import run_dealreg
from tests.support.running import app_of, payouts_know, running_all
from tests.support.watch import TopicWatch, watching

REPO = Path(__file__).resolve().parents[2]
PAYOUTS_TOPIC = "payouts.v1"
REGS = "registrations.v1"


@dataclass
class Billing:
    """What billing sees, and the payouts service's store to wait on."""

    watch: TopicWatch
    payouts: ServiceApplication

    async def approved(self, settings: Settings, registration_id: str, partner_id: str,
                       *, domain: str = "acme.example",
                       submitted_at: str = "2026-03-01T00:00:00Z") -> None:
        """Submit a registration, wait for its approval, and for payouts to know it."""
        await send(settings, "registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, domain=domain, submitted_at=submitted_at))
        await self.watch.one(REGS, registration_id, "registration.approved")
        await payouts_know(self.payouts, registration_id, key=f"domain:{domain}")


@asynccontextmanager
async def stack(settings: Settings) -> AsyncIterator[Billing]:
    async with running_all(settings, REGISTRATION, CONFLICT, PAYOUTS) as runtimes:
        await send(settings, "partners.v1",
                   ev.partner_enrolled("p-north", tier="gold"),
                   ev.partner_enrolled("p-south", program="reseller", tier="silver"))
        async with watching(settings, REGS, "conflicts.v1", PAYOUTS_TOPIC,
                            "dealreg.dlq.v1") as watch:
            yield Billing(watch, app_of(runtimes[2]))


async def send(settings: Settings, topic: str, *documents: dict[str, Any]) -> None:
    await produce(settings, topic, [ev.encode(d) for d in documents])


async def billing_events(billing: Billing, count: int) -> list[dict[str, Any]]:
    watch = billing.watch
    await watch.wait(lambda: len(watch.of(PAYOUTS_TOPIC)) >= count)
    events = watch.of(PAYOUTS_TOPIC)
    assert len(events) == count, events
    for event in events:
        assert_valid_event(event, PAYOUTS_TOPIC)
    return events


def totals(events: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """What billing owes per (deal, partner): the sum of totals and deltas."""
    owed: dict[tuple[str, str], Decimal] = {}
    for event in events:
        data = event["data"]
        if event["type"] == "dealreg.payout.withheld.v1":
            continue
        amount = data["total"] if "total" in data else data["delta"]
        key = (data["deal_id"], data["partner_id"])
        owed[key] = owed.get(key, Decimal(0)) + Decimal(amount["amount"])
    return owed


async def test_calculated_then_adjusted_for_a_late_tier_a_retroactive_policy_and_a_refund(
    kafka_settings: Settings,
) -> None:
    async with stack(kafka_settings) as billing:
        await billing.approved(kafka_settings, "r-1", "p-north")
        await send(kafka_settings, "crm.v1", ev.deal_closed(
            "d-1", closed_at="2026-04-01T00:00:00Z", amount="100000.00",
            registration_id="r-1"))
        [calculated] = await billing_events(billing, 1)
        # a tier change effective before the close, arriving after the payout
        await send(kafka_settings, "partners.v1", ev.partner_tier_changed(
            "p-north", "platinum", "2026-03-15T00:00:00Z"))
        late_tier = (await billing_events(billing, 2))[1]
        # a retroactive policy raising the platinum referral rate
        await send(kafka_settings, "program.v1", ev.policy_published(
            "boost", version=1, effective_from="2026-03-20T00:00:00Z", retroactive=True,
            time="2026-04-05T00:00:00Z", commission_rates={"referral": {"platinum": "0.35"}}))
        retroactive = (await billing_events(billing, 3))[2]
        await send(kafka_settings, "crm.v1", ev.deal_refunded("d-1", "2026-05-01T00:00:00Z"))
        events = await billing_events(billing, 4)

    assert calculated["type"] == "dealreg.payout.calculated.v1"
    assert calculated["subject"] == "d-1"
    data = calculated["data"]
    assert data["deal_id"] == "d-1"
    assert data["partner_id"] == "p-north"
    assert data["registration_id"] == "r-1"
    assert data["sequence"] == 1
    assert data["total"] == {"amount": "25000.00", "currency": "EUR"}
    assert data["lines"] == [{"kind": "commission",
                              "base": {"amount": "100000.00", "currency": "EUR"},
                              "rate": "0.25", "share": "1",
                              "amount": {"amount": "25000.00", "currency": "EUR"}}]
    assert data["basis"] == {"program": "referral", "tier": "gold", "policy_id": "default",
                             "policy_version": 0, "sourced": "partner"}

    assert late_tier["type"] == "dealreg.payout.adjusted.v1"
    assert late_tier["data"]["reason"] == "late_fact"
    assert late_tier["data"]["sequence"] == 2
    assert late_tier["data"]["delta"] == {"amount": "5000.00", "currency": "EUR"}
    assert late_tier["data"]["new_total"] == {"amount": "30000.00", "currency": "EUR"}
    assert late_tier["data"]["supersedes"] == [data["payout_id"]]
    assert late_tier["data"]["basis"]["tier"] == "platinum"

    assert retroactive["data"]["reason"] == "policy_retroactive"
    assert retroactive["data"]["delta"]["amount"] == "5000.00"
    assert retroactive["data"]["new_total"]["amount"] == "35000.00"
    assert retroactive["data"]["basis"]["policy_id"] == "boost"

    refund = events[3]
    assert refund["data"]["reason"] == "refund"
    assert refund["data"]["delta"]["amount"] == "-35000.00"
    assert refund["data"]["new_total"]["amount"] == "0.00"
    assert refund["data"]["lines"] == []
    assert len(refund["data"]["supersedes"]) == 3
    assert totals(events) == {("d-1", "p-north"): Decimal("0.00")}
    assert len({e["data"]["payout_id"] for e in events}) == 4
    assert {e.get("key", "p-north") for e in events} == {"p-north"}


async def test_a_dispute_settled_for_the_earlier_partner_moves_the_payout(
    kafka_settings: Settings,
) -> None:
    async with stack(kafka_settings) as billing:
        watch = billing.watch
        await billing.approved(kafka_settings, "r-holder", "p-north",
                               submitted_at="2026-03-05T00:00:00Z")
        await send(kafka_settings, "registrations.requests.v1", ev.registration_submitted(
            "r-earlier", "p-south", submitted_at="2026-03-01T00:00:00Z"))
        review = await watch.one(REGS, "r-earlier", "registration.under_review")
        await send(kafka_settings, "crm.v1", ev.deal_closed(
            "d-7", closed_at="2026-04-01T00:00:00Z", amount="50000.00"))
        [paid] = await billing_events(billing, 1)
        await send(kafka_settings, "salesops.v1", ev.dispute_resolved(
            review["data"]["dispute_id"], {"registration_id": "r-earlier"},
            resolved_at="2026-04-10T00:00:00Z"))
        events = await billing_events(billing, 3)

    assert paid["data"]["partner_id"] == "p-north"
    assert paid["data"]["total"]["amount"] == "12500.00"
    moved = {e["data"]["partner_id"]: e for e in events[1:]}
    assert moved["p-north"]["type"] == "dealreg.payout.adjusted.v1"
    assert moved["p-north"]["data"]["reason"] == "dispute_settled"
    assert moved["p-north"]["data"]["delta"]["amount"] == "-12500.00"
    assert moved["p-south"]["type"] == "dealreg.payout.calculated.v1"
    assert moved["p-south"]["data"]["registration_id"] == "r-earlier"
    assert moved["p-south"]["data"]["total"]["amount"] == "12000.00"  # reseller silver 0.24
    assert totals(events) == {("d-7", "p-north"): Decimal("0.00"),
                              ("d-7", "p-south"): Decimal("12000.00")}


async def test_a_deal_without_a_protected_registration_is_withheld_until_one_is_approved(
    kafka_settings: Settings,
) -> None:
    async with stack(kafka_settings) as billing:
        watch = billing.watch
        await send(kafka_settings, "crm.v1", ev.deal_closed(
            "d-9", closed_at="2026-04-01T00:00:00Z", amount="1000.00", domain="initech.example"))
        [withheld] = await billing_events(billing, 1)
        await send(kafka_settings, "registrations.requests.v1", ev.registration_submitted(
            "r-9", "p-north", domain="initech.example", submitted_at="2026-03-20T00:00:00Z"))
        events = await billing_events(billing, 2)

    assert withheld["type"] == "dealreg.payout.withheld.v1"
    assert withheld["data"] == {"deal_id": "d-9", "account_key": "domain:initech.example",
                                "reason": "no_registration"}
    assert events[1]["type"] == "dealreg.payout.calculated.v1"
    assert events[1]["data"]["total"]["amount"] == "250.00"
    assert watch.of("dealreg.dlq.v1") == []


async def dealreg(settings: Settings, *args: str) -> str:
    stdout, _ = await run_dealreg(settings, *args)
    return stdout


async def test_billing_tools_show_recompute_and_statement(kafka_settings: Settings) -> None:
    async with stack(kafka_settings) as billing:
        await billing.approved(kafka_settings, "r-1", "p-north")
        await send(kafka_settings, "crm.v1",
                   ev.deal_closed("d-1", closed_at="2026-04-01T00:00:00Z", amount="1000.00"),
                   ev.deal_refunded("d-1", "2026-04-20T00:00:00Z"))
        await billing_events(billing, 2)
        shown = json.loads(await dealreg(kafka_settings, "payouts", "show", "d-1", "--json"))
        differences = json.loads(await dealreg(kafka_settings, "payouts", "recompute",
                                               "--dry-run", "--json"))
        csv_text = await dealreg(kafka_settings, "payouts", "statement", "p-north",
                                 "--from", "2026-04-01", "--to", "2026-04-30", "--csv")

    assert [e["event"] for e in shown["events"]] == ["payout.calculated", "payout.adjusted"]
    assert shown["owed"] == {"p-north": "0.00"}
    assert shown["deal"]["refunded_at"] == "2026-04-20T00:00:00Z"
    assert shown["account_facts"]["registrations"][0]["registration_id"] == "r-1"
    assert differences == []
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["date"], r["event"], r["amount"], r["reason"]) for r in rows] == [
        ("2026-04-01", "payout.calculated", "250.00", ""),
        ("2026-04-20", "payout.adjusted", "-250.00", "refund")]


async def billing_example(settings: Settings, db: Path, group: str) -> dict[str, Any]:
    command = await asyncio.create_subprocess_exec(
        sys.executable, "examples/billing/consumer.py", "--bootstrap", settings.bootstrap,
        "--topic", settings.topic(PAYOUTS_TOPIC), "--group", group, "--db", str(db),
        "--idle-exit", "3", "--session-timeout-ms", "2000", cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(command.communicate(), timeout=120)
    assert command.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result


async def test_the_billing_example_ends_with_the_balances_of_the_ledger(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    async with stack(kafka_settings) as billing:
        for n, partner in enumerate(("p-north", "p-south")):
            await billing.approved(kafka_settings, f"r-{n}", partner,
                                   domain=f"client{n}.example")
        await send(kafka_settings, "crm.v1",
                   ev.deal_closed("d-a", domain="client0.example", amount="1000.00",
                                  closed_at="2026-03-10T00:00:00Z"),
                   ev.deal_closed("d-b", domain="client1.example", amount="2000.00",
                                  closed_at="2026-03-11T00:00:00Z"),
                   ev.deal_closed("d-c", domain="client0.example", amount="400.00",
                                  closed_at="2026-03-12T00:00:00Z"),
                   ev.deal_refunded("d-c", "2026-03-20T00:00:00Z"))
        events = await billing_events(billing, 4)
        first = await billing_example(kafka_settings, tmp_path / "billing.sqlite", "billing")
        replayed = await billing_example(kafka_settings, tmp_path / "billing.sqlite",
                                         "billing-replay")

    ledger = totals(events)
    by_partner: dict[str, Decimal] = {}
    for (_, partner), amount in ledger.items():
        by_partner[partner] = by_partner.get(partner, Decimal(0)) + amount
    assert first["applied"] == 4
    assert first["balances"] == {partner: {"EUR": str(amount)}
                                 for partner, amount in by_partner.items()}
    assert first["balances"] == {"p-north": {"EUR": "250.00"}, "p-south": {"EUR": "480.00"}}
    # every payout read again (another consumer group): applied once, balances unchanged
    assert replayed["applied"] == 0
    assert replayed["skipped_as_seen"] == 4
    assert replayed["balances"] == first["balances"]
