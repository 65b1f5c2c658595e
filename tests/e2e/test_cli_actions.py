"""The sales-ops, billing and partner-admin commands against the real local broker with the
three services running: partners enrolled and moved to another tier, a dispute raised and
resolved from the command line and settled, a manual adjustment paid, and the simulation
of a retroactive policy equal to what publishing it emits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.contract import assert_valid_event
from tests.support.kafka import produce, read_topic
from tests.support.processes import run_dealreg
from tests.support.running import running_all
from tests.support.watch import TopicWatch, watching

REGS, CONFLICTS, PAYOUTS_TOPIC, DLQ = ("registrations.v1", "conflicts.v1", "payouts.v1",
                                       "dealreg.dlq.v1")


@asynccontextmanager
async def stack(settings: Settings) -> AsyncIterator[TopicWatch]:
    """The three services, with p-north (referral, gold) and p-south (reseller, silver)
    enrolled from the command line."""
    async with running_all(settings, REGISTRATION, CONFLICT, PAYOUTS), watching(
            settings, REGS, CONFLICTS, PAYOUTS_TOPIC, DLQ) as watch:
        for partner_id, program, tier in (("p-north", "referral", "gold"),
                                          ("p-south", "reseller", "silver")):
            await sent(settings, "partners", "enroll", partner_id, "--name",
                       f"Partner {partner_id}", "--program", program, "--tier", tier,
                       "--at", "2026-01-01T00:00:00Z")
        yield watch
        assert watch.of(DLQ) == []


async def sent(settings: Settings, *args: str) -> dict[str, Any]:
    """Run a command that sends one event; the CloudEvent it printed."""
    stdout, stderr = await run_dealreg(settings, *args)
    [line] = stdout.splitlines()
    event: dict[str, Any] = json.loads(line)
    assert stderr.splitlines()[-1].startswith(f"sent {event['type'][8:-3]} to ")
    return event


async def refused(settings: Settings, *args: str) -> str:
    """Run a command that must refuse; its one-line message."""
    stdout, stderr = await run_dealreg(settings, *args, status=1)
    assert stdout == ""
    [line] = stderr.splitlines()
    return line


async def approved(settings: Settings, watch: TopicWatch, registration_id: str,
                   partner_id: str, domain: str, submitted_at: str) -> None:
    await produce(settings, "registrations.requests.v1", [ev.encode(ev.registration_submitted(
        registration_id, partner_id, domain=domain, submitted_at=submitted_at))])
    await watch.one(REGS, registration_id, "registration.approved")


async def closed(settings: Settings, watch: TopicWatch, deal_id: str, registration_id: str,
                 domain: str, closed_at: str, amount: str) -> None:
    await produce(settings, "crm.v1", [ev.encode(ev.deal_closed(
        deal_id, registration_id=registration_id, domain=domain, closed_at=closed_at,
        amount=amount))])
    await watch.one(PAYOUTS_TOPIC, deal_id, "payout.calculated")


RESOLVE_BY = ("--by", "ops-lead-1", "--rationale", "p-south met the buyer first",
              "--at", "2026-03-10T00:00:00Z")


async def test_a_dispute_raised_and_resolved_from_the_command_line_is_settled(
        kafka_settings: Settings) -> None:
    settings = kafka_settings
    async with stack(settings) as watch:
        await approved(settings, watch, "r-1", "p-north", "acme.example", "2026-03-01T00:00:00Z")
        await produce(settings, "registrations.requests.v1", [ev.encode(
            ev.registration_submitted("r-2", "p-south", domain="acme.example",
                                      submitted_at="2026-03-02T00:00:00Z"))])
        rejected = await watch.one(REGS, "r-2", "registration.rejected")
        assert rejected["data"]["reason"] == "conflict"

        raised = await sent(settings, "disputes", "raise", "r-2", "--evidence",
                            "Meeting notes of 2026-02-20", "--at", "2026-03-03T00:00:00Z")
        dispute_id = raised["data"]["dispute_id"]
        opened = await watch.one(CONFLICTS, dispute_id, "dispute.opened")
        assert opened["data"]["kind"] == "partner_vs_partner"
        assert sorted(opened["data"]["registration_ids"]) == ["r-1", "r-2"]

        stranger = await refused(settings, "disputes", "resolve", dispute_id, "--winner",
                                 "r-9", *RESOLVE_BY)
        assert stranger.startswith(f"dealreg: registration 'r-9' is not part of dispute "
                                   f"'{dispute_id}'")
        resolved = await sent(settings, "disputes", "resolve", dispute_id, "--winner", "r-2",
                              *RESOLVE_BY)
        settled = await watch.one(CONFLICTS, dispute_id, "dispute.settled")
        assert settled["data"]["winner"] == {"registration_id": "r-2"}
        assert settled["data"]["rejected_registration_ids"] == ["r-1"]
        won = await watch.one(REGS, "r-2", "registration.approved")  # once it has read it
        assert won["data"]["via"] == "dispute"
        await watch.wait(lambda: bool(watch.of(REGS, "r-1", "registration.rejected")))

        again = await refused(settings, "disputes", "resolve", dispute_id, "--winner", "r-2",
                              *RESOLVE_BY)
        assert again.startswith(f"dealreg: dispute '{dispute_id}' is already settled")
        unknown = await refused(settings, "disputes", "resolve", "x-none", "--direct",
                                *RESOLVE_BY)
        assert unknown.startswith("dealreg: no dispute 'x-none' in the conflict service's store")

        records = await read_topic(settings, "salesops.v1", at_least=2)
        assert [(r.key, r.json()) for r in records] == [
            (dispute_id.encode(), raised), (dispute_id.encode(), resolved)]
        for record in records:
            assert record.headers["content-type"] == b"application/cloudevents+json"
            assert_valid_event(record.json(), "salesops.v1")


ADJUST = ("payouts", "adjust", "d-1", "p-north")


async def test_a_manual_adjustment_from_the_command_line_is_paid_once(
        kafka_settings: Settings) -> None:
    settings = kafka_settings
    async with stack(settings) as watch:
        await approved(settings, watch, "r-1", "p-north", "acme.example", "2026-03-01T00:00:00Z")
        await closed(settings, watch, "d-1", "r-1", "acme.example", "2026-04-10T00:00:00Z",
                     "100000.00")
        goodwill = (*ADJUST, "150.00", "EUR", "--reason", "Goodwill for the delayed go-live",
                    "--by", "finance-2", "--at", "2026-05-15T00:00:00Z")
        request = await sent(settings, *goodwill)
        assert await sent(settings, *goodwill) == request  # the same event: a repeat
        back = await sent(settings, *ADJUST, "-50", "eur", "--reason", "Double-counted seat",
                          "--by", "finance-2", "--at", "2026-05-16T00:00:00Z")

        await watch.wait(lambda: len(watch.of(PAYOUTS_TOPIC, "d-1", "payout.adjusted")) >= 2)
        adjusted = [e["data"] for e in watch.of(PAYOUTS_TOPIC, "d-1", "payout.adjusted")]
        assert [(a["reason"], a["adjustment_id"], a["delta"], a["new_total"]["amount"])
                for a in adjusted] == [
            ("manual", request["data"]["adjustment_id"],
             {"amount": "150.00", "currency": "EUR"}, "25150.00"),
            ("manual", back["data"]["adjustment_id"], {"amount": "-50.00", "currency": "EUR"},
             "25100.00")]
        assert [a["partner_id"] for a in adjusted] == ["p-north", "p-north"]


async def test_a_policy_simulation_is_exactly_what_publishing_the_policy_emits(
        kafka_settings: Settings, tmp_path: Path) -> None:
    settings = kafka_settings
    async with stack(settings) as watch:
        for registration_id, partner_id, domain in (("r-1", "p-north", "acme.example"),
                                                    ("r-2", "p-south", "beta.example"),
                                                    ("r-3", "p-north", "gamma.example")):
            await approved(settings, watch, registration_id, partner_id, domain,
                           "2026-03-01T00:00:00Z")
        for deal_id, registration_id, domain, closed_at, amount in (
                ("d-1", "r-1", "acme.example", "2026-04-10T00:00:00Z", "100000.00"),
                ("d-2", "r-2", "beta.example", "2026-04-12T00:00:00Z", "50000.00"),
                ("d-3", "r-3", "gamma.example", "2026-03-20T00:00:00Z", "80000.00")):
            await closed(settings, watch, deal_id, registration_id, domain, closed_at, amount)
        await sent(settings, "partners", "tier", "p-south", "gold", "--effective",
                   "2026-02-01T00:00:00Z")  # late: d-2 is paid at gold, 0.27
        late = await watch.one(PAYOUTS_TOPIC, "d-2", "payout.adjusted")
        assert (late["data"]["reason"], late["data"]["new_total"]["amount"]) == (
            "late_fact", "13500.00")

        shown, _ = await run_dealreg(settings, "policy", "show", "--json", "--at",
                                     "2026-04-15T00:00:00Z")
        assert json.loads(shown)["policy_id"] == "default"
        policy_file = tmp_path / "boost.jsonl"
        policy_file.write_text(json.dumps(ev.policy_published(
            "boost", effective_from="2026-04-01T00:00:00Z", retroactive=True,
            time="2026-06-01T00:00:00Z",
            commission_rates={"referral": {"gold": "0.30"}, "reseller": {"gold": "0.29"}},
        )) + "\n", encoding="utf-8")

        simulated, _ = await run_dealreg(settings, "policy", "simulate", str(policy_file),
                                         "--json")
        simulation = {(c["deal_id"], c["partner_id"]): c for c in json.loads(simulated)}
        assert sorted(simulation) == [("d-1", "p-north"), ("d-2", "p-south")]  # d-3 before
        _, published = await run_dealreg(settings, "publish", "program.v1", str(policy_file))
        assert "published 1 event(s)" in published

        def retroactive() -> list[dict[str, Any]]:
            return [e["data"] for e in watch.of(PAYOUTS_TOPIC, type_="payout.adjusted")
                    if e["data"]["reason"] == "policy_retroactive"]

        await watch.wait(lambda: len(retroactive()) >= len(simulation))
        emitted = {(a["deal_id"], a["partner_id"]): a for a in retroactive()}
        assert {pair: a["delta"] for pair, a in emitted.items()} == {
            pair: c["delta"] for pair, c in simulation.items()}
        assert {pair: a["new_total"] for pair, a in emitted.items()} == {
            pair: c["simulated_total"] for pair, c in simulation.items()}
        assert simulation["d-1", "p-north"]["delta"] == {"amount": "5000.00", "currency": "EUR"}
        assert simulation["d-2", "p-south"]["current_total"]["amount"] == "13500.00"

        shown, _ = await run_dealreg(settings, "policy", "show", "--json", "--at",
                                     "2026-04-15T00:00:00Z")
        assert json.loads(shown)["commission_rates"]["reseller"]["gold"] == "0.29"
        again, said = await run_dealreg(settings, "policy", "simulate", str(policy_file),
                                        "--json")
        assert json.loads(again) == []
        assert "is already published" in said
