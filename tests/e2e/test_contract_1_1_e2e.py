"""Contract 1.1 end to end, on the real local broker with the three services, on SQLite and on
PostgreSQL: registration capacity (§8), holding and clawback (§9), manual adjustments (§10),
recurring revenue share (§11) and direct opportunities read late (§5).

The wall-clock expiry scheduler runs as in production: every window of these 2026-spring
scenarios has ended on the wall clock, so each approval is soon followed by its expiry,
which must change no decision taken in business time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.eventstore import ServiceApplication
from dealreg.services.payouts.domain import DealInvoices
from dealreg.services.program_policy import PolicyBook
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.contract import assert_valid_event
from tests.support.kafka import produce
from tests.support.running import app_of, eventually, payouts_know, running_all
from tests.support.watch import TopicWatch, watching

REGS, CONFLICTS, PAYOUTS_TOPIC, DLQ = ("registrations.v1", "conflicts.v1", "payouts.v1",
                                       "dealreg.dlq.v1")
Event = dict[str, Any]


@dataclass
class Stack:
    settings: Settings
    watch: TopicWatch
    apps: dict[str, ServiceApplication]

    async def send(self, topic: str, *documents: Event) -> None:
        await produce(self.settings, topic, [ev.encode(d) for d in documents])

    async def policy(self, document: Event) -> None:
        """Publish a policy and wait until every service has read it (they read program.v1
        and their other topics in no particular order)."""
        await self.send("program.v1", document)
        policy_id = document["data"]["policy_id"]

        def known(app: ServiceApplication) -> bool:
            book = app.stored(PolicyBook.create_id())
            return isinstance(book, PolicyBook) and any(
                p.policy_id == policy_id for p in book.published)

        for app in self.apps.values():
            await eventually(lambda app=app: known(app))  # type: ignore[misc]

    async def decided(self, registration_id: str) -> Event:
        """The registration's decision: approved, rejected or under review."""
        decisions = ("registration.approved", "registration.rejected",
                     "registration.under_review")
        await self.watch.wait(lambda: any(self.watch.of(REGS, registration_id, d)
                                          for d in decisions))
        return next(e for d in decisions for e in self.watch.of(REGS, registration_id, d))

    async def submit(self, registration_id: str, partner_id: str, submitted_at: str,
                     domain: str = "acme.example") -> Event:
        await self.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, domain=domain, submitted_at=submitted_at,
            expected_close_date="2026-12-01"))
        return await self.decided(registration_id)

    async def payouts(self, count: int) -> list[Event]:
        """The first ``count`` payout events, each valid against its schema."""
        await self.watch.wait(lambda: len(self.watch.of(PAYOUTS_TOPIC)) >= count)
        events = self.watch.of(PAYOUTS_TOPIC)[:count]
        for event in events:
            assert_valid_event(event, PAYOUTS_TOPIC)
        return events


@asynccontextmanager
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    settings = settings.with_overrides(order_grace_ms=500)
    async with running_all(settings, REGISTRATION, CONFLICT, PAYOUTS) as runtimes:
        apps = {runtime.definition.name: app_of(runtime) for runtime in runtimes}
        async with watching(settings, REGS, CONFLICTS, PAYOUTS_TOPIC, DLQ) as watch:
            yield Stack(settings, watch, apps)
            assert watch.of(DLQ) == []


def data_of(events: list[Event], type_name: str) -> list[Event]:
    return [e["data"] for e in events if e["type"] == f"dealreg.{type_name}.v1"]


def owed(events: list[Event]) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = {}
    for event in events:
        data = event["data"]
        if "total" in data or "delta" in data:
            key = (data["deal_id"], data["partner_id"])
            amount = data["total"] if "total" in data else data["delta"]
            sums[key] = sums.get(key, Decimal(0)) + Decimal(amount["amount"])
    return sums


# ------------------------------------------------------------------ §8 capacity


async def test_capacity_is_freed_by_a_withdrawal_and_by_a_window_ending_in_business_time(
        settings: Settings) -> None:
    async with stack(settings) as s:
        await s.policy(ev.policy_published(
            "capped", effective_from="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00Z",
            registration_capacity={"referral": {"gold": 2}}))
        await s.send("partners.v1", ev.partner_enrolled("p-1"))  # referral gold: 45 days
        first = await s.submit("r-1", "p-1", "2026-03-01T00:00:00Z", "acme.example")
        await s.submit("r-2", "p-1", "2026-03-20T00:00:00Z", "globex.example")
        over = await s.submit("r-3", "p-1", "2026-03-21T00:00:00Z", "initech.example")
        # r-1 is announced expired by the wall clock long before this, yet in business time
        # it was open on 2026-04-15: still rejected
        await s.watch.one(REGS, "r-1", "registration.expired")
        still_over = await s.submit("r-4", "p-1", "2026-04-15T00:00:00Z", "hooli.example")
        after_window = await s.submit("r-5", "p-1", "2026-04-15T00:00:01Z", "umbrella.example")
        await s.send("registrations.requests.v1", ev.withdrawal_requested(
            "r-2", "p-1", "2026-04-20T00:00:00Z"))
        await s.watch.one(REGS, "r-2", "registration.withdrawn")
        after_withdrawal = await s.submit("r-6", "p-1", "2026-04-20T00:00:00Z",
                                          "wayne.example")
        duplicate = await s.submit("r-7", "p-1", "2026-04-21T00:00:00Z", "umbrella.example")

    assert first["type"] == "dealreg.registration.approved.v1"
    assert over["data"]["reason"] == "over_capacity"
    assert over["data"]["detail"] == "partner p-1 holds 2 open registrations; capacity 2"
    assert still_over["data"]["reason"] == "over_capacity"
    assert after_window["type"] == "dealreg.registration.approved.v1"
    assert after_withdrawal["type"] == "dealreg.registration.approved.v1"
    assert duplicate["data"]["reason"] == "duplicate"


# ------------------------------------------------------------------ §5 late opportunity


async def test_a_direct_opportunity_read_after_the_approval_opens_a_dispute(
        settings: Settings) -> None:
    async with stack(settings) as s:
        await s.send("partners.v1", ev.partner_enrolled("p-1"))
        approved = await s.submit("r-1", "p-1", "2026-03-05T00:00:00Z")
        await s.send("crm.v1", ev.opportunity_opened("o-1", opened_at="2026-03-01T00:00:00Z"))
        await s.watch.wait(lambda: bool(s.watch.of(CONFLICTS, type_="dispute.opened")))
        [dispute] = s.watch.of(CONFLICTS, type_="dispute.opened")
        [conflict] = s.watch.of(CONFLICTS, type_="conflict.detected")

    assert approved["type"] == "dealreg.registration.approved.v1"
    assert conflict["data"]["kind"] == "partner_vs_direct"
    assert dispute["data"]["registration_ids"] == ["r-1"]
    assert dispute["data"]["opportunity_ids"] == ["o-1"]
    assert dispute["data"]["opened_at"] == "2026-03-05T00:00:00Z"
    assert s.watch.of(REGS, "r-1", "registration.under_review") == []


# ------------------------------------------------------------------ §11 revenue share


def invoice(invoice_id: str, deal_id: str, period_start: str, **fields: Any) -> Event:
    year, month, _ = period_start.split("-")
    return ev.subscription_invoiced(invoice_id, deal_id, period_start=period_start,
                                    period_end=f"{year}-{month}-28",
                                    invoiced_at=f"{period_start}T06:00:00Z", **fields)


async def test_revenue_share_invoice_by_invoice_and_a_refund_after_the_holding_period(
        settings: Settings) -> None:
    async with stack(settings) as s:
        await s.policy(ev.policy_published(
            "held", effective_from="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00Z",
            holding_days=14))
        await s.send("partners.v1", ev.partner_enrolled("p-msp", program="msp"))
        await s.submit("r-1", "p-msp", "2026-03-01T00:00:00Z")
        await payouts_know(s.apps["payouts"], "r-1")
        await s.send("crm.v1", invoice("inv-early", "d-1", "2026-04-10", amount="500.00"))
        await eventually(lambda: s.apps["payouts"].stored(
            DealInvoices.create_id("d-1")) is not None)
        await s.send("crm.v1",
                     ev.deal_closed("d-1", closed_at="2026-04-10T00:00:00Z",
                                    registration_id="r-1"),
                     invoice("inv-usd", "d-1", "2026-05-10", currency="USD"),
                     invoice("inv-beyond", "d-1", "2029-04-10"),
                     invoice("inv-may", "d-1", "2026-05-10", amount="1000.00"),
                     invoice("inv-may", "d-1", "2026-05-10", amount="1000.00"),
                     invoice("inv-jun", "d-1", "2026-06-10", amount="1000.00"),
                     ev.deal_refunded("d-1", "2026-07-01T00:00:00Z"))
        # one partition (crm.v1 is keyed by deal) and the store's order: had the other
        # currency, the period beyond the months or the repeat emitted anything, it would
        # come before the refund's adjustment
        first, may, june, refund = await s.payouts(4)

    assert first["data"]["invoice_id"] is None
    assert [line["kind"] for line in first["data"]["lines"]] == ["commission", "revenue_share"]
    assert first["data"]["total"]["amount"] == "100.00"  # 500 x 0.20 (msp gold)
    assert first["data"]["payable_on"] == "2026-04-24"
    assert (may["data"]["invoice_id"], may["data"]["total"]["amount"]) == ("inv-may", "200.00")
    assert may["data"]["payable_on"] == "2026-05-24"
    assert may["time"] == "2026-05-10T06:00:00Z"
    assert june["data"]["invoice_id"] == "inv-jun"
    assert refund["data"]["reason"] == "refund"
    assert refund["data"]["delta"]["amount"] == "-500.00"
    assert refund["data"]["payable_on"] == "2026-04-24"
    assert refund["data"]["clawback"] is True


async def test_a_dispute_settlement_moves_the_revenue_share(settings: Settings) -> None:
    async with stack(settings) as s:
        await s.send("partners.v1", ev.partner_enrolled("p-a", program="msp"),
                     ev.partner_enrolled("p-b", program="msp", tier="platinum"))
        await s.submit("r-a", "p-a", "2026-03-05T00:00:00Z")
        review = await s.submit("r-b", "p-b", "2026-03-01T00:00:00Z")  # earlier, read later
        await payouts_know(s.apps["payouts"], "r-a")
        await s.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-04-10T00:00:00Z",
                                              registration_id="r-a"),
                     invoice("inv-1", "d-1", "2026-05-01", amount="1000.00"))
        await s.payouts(2)
        await s.send("salesops.v1", ev.dispute_resolved(
            review["data"]["dispute_id"], {"registration_id": "r-b"},
            resolved_at="2026-06-01T00:00:00Z"))
        events = await s.payouts(4)

    assert review["type"] == "dealreg.registration.under_review.v1"
    assert owed(events) == {("d-1", "p-a"): Decimal("0.00"),
                            ("d-1", "p-b"): Decimal("250.00")}  # platinum 0.25
    moved = events[3] if events[3]["data"]["partner_id"] == "p-b" else events[2]
    assert moved["data"]["lines"][-1]["kind"] == "revenue_share"
    assert moved["data"]["registration_id"] == "r-b"


# ------------------------------------------------------------------ §9, §10


async def test_a_refund_inside_the_holding_period_is_no_clawback(settings: Settings) -> None:
    async with stack(settings) as s:
        await s.policy(ev.policy_published(
            "held", effective_from="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00Z",
            holding_days=30))
        await s.send("partners.v1", ev.partner_enrolled("p-1"))
        await s.submit("r-1", "p-1", "2026-03-01T00:00:00Z")
        await payouts_know(s.apps["payouts"], "r-1")
        await s.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-04-01T00:00:00Z",
                                              registration_id="r-1"),
                     ev.deal_refunded("d-1", "2026-05-01T00:00:00Z"))
        calculated, refund = await s.payouts(2)

    assert calculated["data"]["payable_on"] == "2026-05-01"
    assert refund["data"]["clawback"] is False
    assert refund["data"]["delta"]["amount"] == "-25000.00"


async def test_manual_adjustments_survive_a_retroactive_policy_and_each_rejection_is_told(
        settings: Settings) -> None:
    async with stack(settings) as s:
        await s.send("partners.v1", ev.partner_enrolled("p-1"), ev.partner_enrolled("p-2"))
        await s.submit("r-1", "p-1", "2026-03-01T00:00:00Z")
        await payouts_know(s.apps["payouts"], "r-1")
        await s.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-04-01T00:00:00Z",
                                              registration_id="r-1", amount="10000.00"),
                     ev.deal_closed("d-lost", outcome="lost", domain="lost.example"))
        await s.payouts(1)
        await s.send("salesops.v1",
                     ev.adjustment_requested("adj-1", "d-1", "p-1", amount="150.00"),
                     ev.adjustment_requested("adj-2", "d-1", "p-2", amount="-20.00"),
                     ev.adjustment_requested("adj-unknown", "d-404", "p-1"),
                     ev.adjustment_requested("adj-lost", "d-lost", "p-1"),
                     ev.adjustment_requested("adj-nobody", "d-1", "p-nobody"),
                     ev.adjustment_requested("adj-usd", "d-1", "p-1", currency="USD"))
        await s.payouts(7)
        await s.send("program.v1", ev.policy_published(
            "summer", effective_from="2026-03-01T00:00:00Z", retroactive=True,
            time="2026-06-01T00:00:00Z", commission_rates={"referral": {"gold": "0.30"}}))
        events = await s.payouts(8)

    rejected = {d["adjustment_id"]: d["reason"]
                for d in data_of(events, "payout.adjustment_rejected")}
    assert rejected == {"adj-unknown": "unknown_deal", "adj-lost": "deal_not_won",
                        "adj-nobody": "unknown_partner", "adj-usd": "currency_mismatch"}
    manual = {d["adjustment_id"]: d for d in data_of(events, "payout.adjusted")
              if d["reason"] == "manual"}
    assert manual["adj-1"]["delta"]["amount"] == "150.00"
    assert manual["adj-2"]["sequence"] == 1
    retroactive = next(d for d in data_of(events, "payout.adjusted")
                       if d["reason"] == "policy_retroactive")
    assert retroactive["new_total"]["amount"] == "3150.00"  # 10000 x 0.30 + 150
    assert owed(events) == {("d-1", "p-1"): Decimal("3150.00"),
                            ("d-1", "p-2"): Decimal("-20.00")}
