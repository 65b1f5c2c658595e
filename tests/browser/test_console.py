"""The web console in real headless Chromium (Playwright), served by ``dealreg up`` on the
real local broker: sales ops resolve a dispute through the form and see the winner hold the
account and the payout move, as registrations.v1 and payouts.v1 announce it (SQLite and
PostgreSQL); a partner registers a deal and sees it approved, and finds an account another
partner holds unavailable without learning who; billing, auditors and program ops use their
pages; a form without its CSRF token is refused; the queue fits a phone's width; and no
token, cookie or contact e-mail is in any line ``dealreg up`` logged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from playwright.async_api import BrowserContext, Page

from dealreg.actions import now
from dealreg.api.tokens import TokenStore
from dealreg.events.schemas.values import format_utc
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.browser import (
    PHONE,
    WAIT_S,
    Stack,
    chromium,
    dealreg_up,
    fits_the_width,
    follow,
    reload_until,
    screenshots,
    sign_in,
)
from tests.support.kafka import produce, read_topic
from tests.support.watch import Event, TopicWatch, watching

REGS, CONFLICTS, PAYOUTS = "registrations.v1", "conflicts.v1", "payouts.v1"
ACME = "acme.example"
CONTACT = "jo.buyer@acme.example"  # every registration of tests.support.events has it


def days_ago(days: float) -> str:
    return format_utc(datetime.now(UTC).replace(microsecond=0) - timedelta(days=days))


async def send(settings: Settings, topic: str, *events: dict[str, object]) -> None:
    for event in events:
        await produce(settings, topic, [ev.encode(event)], key=str(event["subject"]).encode())


async def enrolled(settings: Settings, *partners: tuple[str, str, str]) -> None:
    await send(settings, "partners.v1", *(
        ev.partner_enrolled(partner_id, program=program, tier=tier, enrolled_at=days_ago(30))
        for partner_id, program, tier in partners))


async def cookies_of(*contexts: BrowserContext) -> list[str]:
    return [cookie["value"] for context in contexts for cookie in await context.cookies()]


def assert_logged_nothing_secret(stack: Stack, secrets: Iterable[str]) -> None:
    """Every line ``dealreg up`` logged is free of ``secrets``; its request lines are there
    (the check reads real logs, not none)."""
    lines = stack.logs.lines
    requests = [json.loads(line) for line in lines if line.startswith("{")
                and json.loads(line).get("msg") == "request"]
    assert requests, "no request logged"
    for secret in secrets:
        assert len(secret) >= 8
        leaked = [line for line in lines if secret in line]
        assert leaked == [], f"a secret is in the logs: {leaked[:3]}"


async def test_sales_ops_resolve_a_dispute_and_see_the_winner_and_the_payout_move(
        settings: Settings, tmp_path: Path) -> None:
    shots = screenshots(tmp_path)
    ops_token = TokenStore.open(settings).create("ops-lead", "sales_ops", None, now())
    async with dealreg_up(settings) as stack, watching(settings, REGS, CONFLICTS,
                                                       PAYOUTS) as watch:
        await enrolled(settings, ("p-north", "referral", "gold"),
                       ("p-south", "reseller", "silver"))
        await _contested_acme(settings, watch)
        async with chromium(tmp_path) as laptop, chromium(tmp_path, PHONE) as phone:
            page = await sign_in(laptop, stack, ops_token)
            assert page.url == f"{stack.url}/disputes"
            item = page.locator("#dispute-x-acme")
            assert "overdue" in (await item.get_attribute("class") or "")
            assert "overdue by" in await item.inner_text()
            await page.screenshot(path=shots / "sales-ops-queue.png")
            small = await sign_in(phone, stack, ops_token)
            assert await fits_the_width(small)
            await small.screenshot(path=shots / "sales-ops-queue-phone.png")
            await small.goto(f"{stack.url}/disputes/x-acme")
            assert await fits_the_width(small)

            await follow(page, "#dispute-x-acme a.queue-id")
            assert "We met the buyer first" in await page.inner_text("main")
            await page.check("input[name=winner][value=r-2]")
            await page.fill("#rationale", "p-south met the buyer first (meeting notes)")
            await page.screenshot(path=shots / "sales-ops-dispute.png", full_page=True)
            await follow(page, "button:has-text('Resolve the dispute')")
            assert page.url.endswith("/disputes/x-acme?sent=true")
            await reload_until(page, "Won by registration r-2, decided by ops-lead")
            await reload_until(page, "Holds the account now: r-2 of p-south")

            won = await watch.one(REGS, "r-2", "registration.approved", timeout_s=WAIT_S)
            assert won["data"]["via"] == "dispute"
            moved = await _moved_payouts(watch)
            await page.goto(f"{stack.url}/partners/p-south")
            total = moved["p-south"]["data"]["total"]
            await reload_until(page, f"{total['amount']} {total['currency']}",
                               exactly_in="#deal-d-1 .net")
            await page.screenshot(path=shots / "sales-ops-partner.png", full_page=True)
            await page.goto(f"{stack.url}/partners/p-north")
            await reload_until(page, "0.00 EUR", exactly_in="#deal-d-1 .net")

            await page.goto(f"{stack.url}/accounts")
            await page.fill("input[name=account]", ACME)
            await page.fill("input[name=as_of]", days_ago(5)[:10])
            await follow(page, "button:has-text('Show')")
            assert "Nobody held it then." in await page.inner_text("main")
            await page.fill("input[name=as_of]", days_ago(0)[:10])
            await follow(page, "button:has-text('Show')")
            assert "Held by r-2 of p-south" in await page.inner_text("main")
            await page.screenshot(path=shots / "sales-ops-account.png", full_page=True)

            forged = await page.request.post(f"{stack.url}/disputes/x-acme/resolution",
                                             form={"winner": "r-1", "rationale": "forged"})
            assert forged.status == 403
            assert "CSRF check" in await forged.text()

            secrets = [ops_token, CONTACT, *await cookies_of(laptop, phone)]
        records = await read_topic(settings, "salesops.v1", at_least=2)
        assert sorted(r.json()["type"] for r in records) == [  # the forged one is not there
            "dealreg.dispute.raised.v1", "dealreg.dispute.resolved.v1"]
    assert_logged_nothing_secret(stack, secrets)


async def _contested_acme(settings: Settings, watch: TopicWatch) -> None:
    """r-1 (p-north) holds acme; r-2 (p-south) lost it and disputes it (x-acme, open for
    about three days); d-1 closed on acme pays p-north."""
    await send(settings, "registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-north", domain=ACME, submitted_at=days_ago(4),
        expected_close_date=days_ago(-60)[:10]))
    await watch.one(REGS, "r-1", "registration.approved", timeout_s=WAIT_S)
    await send(settings, "registrations.requests.v1", ev.registration_submitted(
        "r-2", "p-south", domain=ACME, submitted_at=days_ago(3.5),
        expected_close_date=days_ago(-60)[:10]))
    await watch.one(REGS, "r-2", "registration.rejected", timeout_s=WAIT_S)
    await send(settings, "salesops.v1", ev.dispute_raised("x-acme", "r-2",
                                                          raised_at=days_ago(3)))
    await watch.one(CONFLICTS, "x-acme", "dispute.opened", timeout_s=WAIT_S)
    await send(settings, "crm.v1", ev.deal_closed("d-1", closed_at=days_ago(1),
                                                  amount="50000.00"))
    paid = await watch.one(PAYOUTS, "d-1", "payout.calculated", timeout_s=WAIT_S)
    assert paid["data"]["partner_id"] == "p-north"


async def _moved_payouts(watch: TopicWatch) -> dict[str, Event]:
    """The events that moved d-1's payout once the dispute was settled, by partner."""
    await watch.wait(lambda: len(watch.of(PAYOUTS, "d-1")) >= 3, timeout_s=WAIT_S)
    moved = {e["data"]["partner_id"]: e for e in watch.of(PAYOUTS, "d-1")[1:]}
    assert moved["p-north"]["type"] == "dealreg.payout.adjusted.v1"
    assert moved["p-north"]["data"]["reason"] == "dispute_settled"
    assert moved["p-south"]["type"] == "dealreg.payout.calculated.v1"
    assert Decimal(moved["p-south"]["data"]["total"]["amount"]) > 0
    return moved


async def test_a_partner_registers_sees_it_approved_and_cannot_see_who_holds_an_account(
        kafka_settings: Settings, tmp_path: Path) -> None:
    settings, shots = kafka_settings, screenshots(tmp_path)
    tokens = TokenStore.open(settings)
    partner_token = tokens.create("globex-portal", "partner", "p-east", now())
    others = {role: tokens.create(name, role, None, now()) for name, role in (
        ("finance", "billing"), ("auditor-1", "auditor"), ("program-ops", "program_ops"))}
    email = "ada.buyer@globex.example"
    async with dealreg_up(settings) as stack, watching(settings, REGS, PAYOUTS) as watch:
        await enrolled(settings, ("p-east", "referral", "gold"), ("p-north", "referral", "gold"))
        await send(settings, "registrations.requests.v1", ev.registration_submitted(
            "r-1", "p-north", domain=ACME, submitted_at=days_ago(2),
            expected_close_date=days_ago(-60)[:10]))
        await watch.one(REGS, "r-1", "registration.approved", timeout_s=WAIT_S)
        await send(settings, "crm.v1", ev.deal_closed("d-1", closed_at=days_ago(1)))
        await watch.one(PAYOUTS, "d-1", "payout.calculated", timeout_s=WAIT_S)
        async with chromium(tmp_path) as browser:
            page = await sign_in(browser, stack, partner_token)
            assert page.url == f"{stack.url}/registrations"
            await follow(page, "a.button:has-text('Register a deal')")
            for field, value in (("company_name", "Globex GmbH"), ("domain", "globex.example"),
                                 ("country", "DE"), ("contact_name", "Ada Buyer"),
                                 ("contact_email", email), ("amount", "18000.00"),
                                 ("currency", "EUR"),
                                 ("expected_close_date", days_ago(-45)[:10])):
                await page.fill(f"#{field}", value)
            await page.select_option("#segment", "smb")
            await page.screenshot(path=shots / "partner-register.png", full_page=True)
            await follow(page, "button:has-text('Register')")
            registration_id = page.url.split("/registrations/")[1].split("?")[0]
            approved = await watch.one(REGS, registration_id, "registration.approved",
                                       timeout_s=WAIT_S)
            assert approved["data"]["partner_id"] == "p-east"
            await reload_until(page, "Globex GmbH approved")
            await page.screenshot(path=shots / "partner-registration.png", full_page=True)
            await page.goto(f"{stack.url}/registrations")
            await reload_until(page, "Globex GmbH")

            await page.goto(f"{stack.url}/availability")
            await page.fill("#company_name", "Acme, Inc.")
            await page.fill("#country", "US")
            await page.fill("#domain", ACME)
            await follow(page, "button:has-text('Check')")
            answer = await page.inner_text("main")
            assert "Unavailable" in answer
            for other in ("p-north", "Partner p-north", "r-1", days_ago(2)[:10]):
                assert other not in await page.content()
            await page.screenshot(path=shots / "partner-availability.png", full_page=True)
            await _other_roles(browser, stack, others, shots)
            secrets = [partner_token, *others.values(), email, CONTACT,
                       *await cookies_of(browser)]
    assert_logged_nothing_secret(stack, secrets)


async def _other_roles(browser: BrowserContext, stack: Stack, tokens: dict[str, str],
                       shots: Path) -> None:
    """Billing downloads p-north's statement, the auditor verifies the chains, program ops
    enroll a partner: each signed in from the same browser after the one before signed out."""
    page = await _switch(browser, stack, tokens["billing"])
    await page.fill("input[name=partner_id]", "p-north")
    await page.fill("input[name=from]", days_ago(30)[:10])
    await follow(page, "button:has-text('Show')")
    assert "d-1" in await page.inner_text("main")
    await page.screenshot(path=shots / "billing-statement.png", full_page=True)
    async with page.expect_download() as download_info:
        await page.click("a:has-text('Download CSV')")
    download = await download_info.value
    csv = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    assert csv.startswith("date,deal_id,event,")
    assert ",d-1," in csv

    page = await _switch(browser, stack, tokens["auditor"])
    assert "Every hash chain verifies" in await page.inner_text("main")
    await page.screenshot(path=shots / "auditor-audit.png", full_page=True)

    page = await _switch(browser, stack, tokens["program_ops"])
    assert "Program policy in force" in await page.inner_text("main")
    await page.goto(f"{stack.url}/enrollments")
    await page.fill("#partner_id", "p-west")
    await page.fill("#name", "Westwind")
    await follow(page, "button:has-text('Enroll')")
    assert "Enrollment sent" in await page.inner_text("main")
    await page.screenshot(path=shots / "program-ops-enrollments.png", full_page=True)
    records = await read_topic(stack.settings, "partners.v1", at_least=3)
    assert "p-west" in {r.json()["data"]["partner_id"] for r in records}


async def _switch(browser: BrowserContext, stack: Stack, token: str) -> Page:
    page = browser.pages[0]
    await follow(page, "button:has-text('Sign out')")
    assert "You are signed out." in await page.inner_text("main")
    return await sign_in(browser, stack, token)
