"""No double payout and no missing one: the payouts service SIGKILLed at the worst moments,
restarted, and fed every record again (PostgreSQL, real broker)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.kafka import produce
from tests.support.processes import after_restart, run_until_killed
from tests.support.running import running_all
from tests.support.watch import watching

DEALS = 6


async def approved_registrations_and_won_deals(settings: Settings) -> None:
    async with (
        running_all(settings, REGISTRATION, CONFLICT),
        watching(settings, "registrations.v1") as watch,
    ):
        await produce(settings, "partners.v1", [ev.encode(ev.partner_enrolled("p-1"))])
        await produce(settings, "registrations.requests.v1", [
            ev.encode(ev.registration_submitted(f"r-{n}", "p-1", domain=f"d{n}.example",
                                                submitted_at="2026-03-01T00:00:00Z"))
            for n in range(DEALS)])
        await watch.wait(lambda: len(watch.of("registrations.v1",
                                              type_="registration.approved")) == DEALS)
    await produce(settings, "crm.v1", [
        ev.encode(ev.deal_closed(f"d-{n}", domain=f"d{n}.example", amount=f"{1000 * (n + 1)}.00",
                                 closed_at="2026-03-20T00:00:00Z"))
        for n in range(DEALS)], key=None, partition=None)


async def billed(settings: Settings) -> dict[str, dict[str, Decimal]]:
    """payout id → (deal, amount) as billing sees it, once every deal is paid."""
    async with (
        running_all(settings, PAYOUTS),
        watching(settings, "payouts.v1", "dealreg.dlq.v1") as watch,
    ):
        await watch.wait(lambda: len(watch.of("payouts.v1", type_="payout.calculated"))
                         >= DEALS)
        await asyncio.sleep(1.5)  # anything more (a double payout) would arrive now
    assert watch.of("dealreg.dlq.v1") == []
    # A deal read before its registration's approval is withheld first, then paid: the
    # payouts service reads crm.v1 and registrations.v1 in no particular order.
    assert {e["type"] for e in watch.of("payouts.v1")} <= {
        "dealreg.payout.calculated.v1", "dealreg.payout.withheld.v1"}
    by_id: dict[str, dict[str, Decimal]] = {}
    for event in watch.of("payouts.v1", type_="payout.calculated"):
        data = event["data"]
        entry = {data["deal_id"]: Decimal(data["total"]["amount"])}
        assert by_id.setdefault(data["payout_id"], entry) == entry  # same id, same content
    return by_id


@pytest.mark.parametrize("crash_point", ["after-store-commit", "mid-outbox-batch"])
async def test_payouts_killed_then_restarted_pay_each_deal_exactly_once(
    postgres_settings: Settings, crash_point: str
) -> None:
    await approved_registrations_and_won_deals(postgres_settings)
    await run_until_killed(postgres_settings, crash_point, "payouts")
    payouts = await billed(after_restart(postgres_settings))

    assert len(payouts) == DEALS  # one payout.calculated per deal: none doubled, none lost
    assert sorted(amount for entry in payouts.values() for amount in entry.values()) == [
        Decimal(250 * (n + 1)) for n in range(DEALS)]

    # Every record again (a new consumer group has no Kafka offsets): nothing new is paid.
    again = await billed(replace(postgres_settings, consumer_group_prefix="again-"))
    assert again == payouts
