"""The web console on real stores (SQLite), through httpx: signing in to an HTTP-only,
SameSite=Strict session and out, the CSRF token every form needs, the pages each role may
see (the API's role checks), the dispute queue against the review target, a resolution and
a registration sent through forms as the API sends them, the availability check that never
names another partner, statements as CSV, the audit page, and errors as pages."""

from __future__ import annotations

import html
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from dealreg.actions import now
from dealreg.api.pages import LIMIT
from dealreg.console.sessions import COOKIE
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.api import Api, running_api
from tests.support.console import Person, csrf_of, person, signed_in, words

ACME = "acme.example"
ACME_CONTACT = "jo.buyer@acme.example"


@pytest.fixture
async def api(kafka_settings: Settings) -> AsyncIterator[Api]:
    """r-1 (p-a) holds acme; r-2 (p-b) lost it and p-b disputes it (x-1, open); d-1 closed
    on r-1 pays p-a."""
    async with running_api(kafka_settings) as running:
        bus = running.bus
        for registration_id, partner_id, day in (("r-1", "p-a", "01"), ("r-2", "p-b", "02")):
            bus.send("registrations.requests.v1", ev.registration_submitted(
                registration_id, partner_id, domain=ACME,
                submitted_at=f"2026-03-{day}T00:00:00Z"))
        bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-03-06T00:00:00Z"))
        bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1", domain=ACME,
                                          closed_at="2026-03-20T00:00:00Z"))
        running.project()
        yield running


async def test_signing_in_opens_an_http_only_strict_session_that_never_holds_the_token(
        api: Api) -> None:
    someone = person(api)
    first = await someone.get("/disputes")
    assert (first.status_code, first.headers["location"]) == (303, "/signin?next=%2Fdisputes")
    form = await someone.get("/signin?next=%2Fdisputes")
    before = someone.client.cookies[COOKIE]
    assert "HttpOnly" in form.headers["set-cookie"]
    assert "SameSite=strict" in form.headers["set-cookie"]
    answer = await someone.client.post("/signin", data={
        "csrf": csrf_of(form.text), "token": api.tokens["ops-lead"], "next": "/disputes"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/disputes")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert api.tokens["ops-lead"] not in cookie
    assert someone.client.cookies[COOKIE] != before  # a new session once signed in
    page = await someone.read("/disputes")
    assert "ops-lead · sales ops" in page
    headers = (await someone.get("/disputes")).headers
    assert headers["content-security-policy"].startswith("default-src 'none'")

    wrong = await someone.send("/signin", "/signin", {"token": "not-a-token"})
    assert wrong.status_code == 401
    assert "That token is unknown or revoked" in words(wrong.text)


async def test_a_form_without_the_sessions_csrf_token_is_refused_and_sends_nothing(
        api: Api) -> None:
    ops = await signed_in(api, "ops-lead")
    fields = {"winner": "r-2", "rationale": "p-b met the buyer first"}
    for csrf in (None, "forged"):
        data = fields | ({"csrf": csrf} if csrf else {})
        refused = await ops.client.post("/disputes/x-1/resolution", data=data)
        assert refused.status_code == 403
        assert "CSRF check" in words(refused.text)
        assert api.produced.take() == []
    other = await signed_in(api, "ops-lead")  # another session's token is not this one's
    page = await other.get("/disputes/x-1")
    stolen = await ops.client.post("/disputes/x-1/resolution",
                                   data=fields | {"csrf": csrf_of(page.text)})
    assert stolen.status_code == 403
    anonymous = person(api)
    blind = await anonymous.client.post("/signin", data={"token": api.tokens["ops-lead"]})
    assert blind.status_code == 403
    assert api.produced.take() == []


async def test_each_role_sees_the_pages_its_api_role_may_call(api: Api) -> None:
    menus = {"ops-lead": ["Disputes", "Accounts", "Partners"],
             "portal-a": ["My registrations", "Register a deal", "Availability",
                          "My statement"],
             "finance": ["Statements", "Payouts due"], "auditor-1": ["Audit"],
             "program-ops": ["Policy", "Partners"]}
    for holder, labels in menus.items():
        someone = await signed_in(api, holder)
        home = await someone.get("/")
        page = (await someone.get(home.headers["location"])).text
        nav = page.split('<nav aria-label="pages">')[1].split("</nav>")[0]
        assert words(nav).split("  ") == [" ".join(labels)]
        assert f"{holder} · " in words(page)
    partner = await signed_in(api, "portal-a")
    refused = await partner.read("/disputes", status=403)
    assert "a partner token may not call this endpoint (it is for sales_ops)" in refused
    assert "Traceback" not in refused
    ops = await signed_in(api, "ops-lead")
    for path in ("/audit", "/statements", "/registrations/new", "/policy"):
        assert "Forbidden" in await ops.read(path, status=403)


async def test_the_queue_shows_each_disputes_age_against_the_review_target(api: Api) -> None:
    ops = await signed_in(api, "ops-lead")
    answer = await ops.get("/disputes")
    queue = words(answer.text)
    assert "Review target: 48 h" in queue
    assert 'class="queue-item overdue" id="dispute-x-1"' in answer.text
    assert "overdue by" in queue
    assert "review by 2026-03-08 00:00:00 UTC" in queue


async def test_a_dispute_not_yet_due_is_not_marked(kafka_settings: Settings) -> None:
    hours = int((datetime.now(UTC) - datetime(2026, 3, 6, tzinfo=UTC)).total_seconds()
                // 3600) + 48
    async with running_api(kafka_settings.with_overrides(dispute_review_hours=hours)) as api:
        for registration_id, partner_id, day in (("r-1", "p-a", "01"), ("r-2", "p-b", "02")):
            api.bus.send("registrations.requests.v1", ev.registration_submitted(
                registration_id, partner_id, domain=ACME,
                submitted_at=f"2026-03-{day}T00:00:00Z"))
        api.bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2",
                                                      raised_at="2026-03-06T00:00:00Z"))
        ops = await signed_in(api, "ops-lead")
        answer = await ops.get("/disputes")
        assert f"Review target: {hours} h" in words(answer.text)
        assert 'class="queue-item" id="dispute-x-1"' in answer.text
        assert "overdue" not in words(answer.text)


async def test_a_dispute_resolved_through_its_form_is_sent_by_the_signed_in_holder(
        api: Api) -> None:
    ops = await signed_in(api, "ops-lead")
    page = await ops.read("/disputes/x-1")
    assert "What the parties said We met the buyer first" in page
    assert "The rules, re-run over the stored facts, reproduce every decision" in page
    silent = await ops.send("/disputes/x-1", "/disputes/x-1/resolution", {"winner": "r-2"})
    assert silent.status_code == 422
    assert "must not be empty" in words(silent.text)
    answer = await ops.send("/disputes/x-1", "/disputes/x-1/resolution",
                            {"winner": "r-2", "rationale": "p-b met the buyer first"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/disputes/x-1?sent=true")
    [event] = api.deliver()
    assert event["type"] == "dealreg.dispute.resolved.v1"
    assert event["data"] | {"resolved_at": "-"} == {
        "dispute_id": "x-1", "winner": {"registration_id": "r-2"}, "resolved_at": "-",
        "resolved_by": "ops-lead", "rationale": "p-b met the buyer first"}
    settled = await ops.read("/disputes/x-1")
    assert "Won by registration r-2, decided by ops-lead" in settled
    assert "Resolve the dispute" not in settled
    again = await ops.send("/disputes/x-1", "/disputes/x-1/resolution",
                           {"winner": "r-2", "rationale": "twice"})
    assert again.status_code == 409
    assert "dispute 'x-1' is already settled" in words(again.text)
    assert api.produced.take() == []
    assert "p-b" in await ops.read("/partners/p-b")


async def test_a_partner_registers_through_the_form_and_reads_only_its_own(api: Api) -> None:
    partner = await signed_in(api, "portal-a")
    fields = {"company_name": "Globex", "domain": "globex.example", "country": "de",
              "segment": "smb", "contact_name": "Ada Buyer",
              "contact_email": "ada@globex.example", "amount": "1200.50", "currency": "eur",
              "expected_close_date": str((datetime.now(UTC) + timedelta(days=90)).date())}
    bad = await partner.send("/registrations/new", "/registrations", fields | {"country": "D"})
    assert bad.status_code == 422
    assert "Some fields need a change" in words(bad.text)
    assert 'id="country-error"' in bad.text
    assert api.produced.take() == []
    form = await partner.get("/registrations/new")
    key = form.text.split('name="idempotency_key" value="')[1].split('"')[0]
    sent = await partner.client.post("/registrations", data=fields | {
        "csrf": csrf_of(form.text), "idempotency_key": key})
    assert sent.status_code == 303
    registration_id = sent.headers["location"].split("/")[-1].split("?")[0]
    waiting = await partner.read(sent.headers["location"])
    assert "dealreg received registration" in waiting
    [event] = api.deliver()
    assert (event["type"], event["data"]["partner_id"]) == (
        "dealreg.registration.submitted.v1", "p-a")
    assert event["data"]["prospect"]["country"] == "DE"
    assert event["data"]["estimated_value"] == {"amount": "1200.50", "currency": "EUR"}
    again = await partner.client.post("/registrations", data=fields | {
        "csrf": csrf_of(form.text), "idempotency_key": key})
    assert again.headers["location"] == f"/registrations/{registration_id}?sent=true"
    assert api.produced.take() == []  # stored already: nothing sent twice
    page = await partner.read(f"/registrations/{registration_id}")
    assert "Globex approved" in page
    listed = await partner.read("/registrations")
    assert "Globex" in listed
    assert "r-1" not in listed
    other = await signed_in(api, "portal-b")
    assert "Not found" in await other.read(f"/registrations/{registration_id}", status=404)


async def test_availability_says_unavailable_without_naming_the_holder(api: Api) -> None:
    partner = await signed_in(api, "portal-b")
    answer = await partner.read("/availability?company_name=Acme%2C+Inc.&country=us"
                                "&domain=acme.example")
    assert "Unavailable" in answer
    for other in ("p-a", "r-1", "2026-03-01"):
        assert other not in answer
    free = await partner.read("/availability?company_name=Initech&country=US")
    assert "Available" in free
    assert "Unavailable" not in free
    missing = await partner.get("/availability?company_name=Initech&country=")
    assert 'id="country-error">is not in the form asked for' in missing.text
    assert "Available" not in words(missing.text)


async def test_statements_open_as_pages_and_download_as_csv(api: Api) -> None:
    finance = await signed_in(api, "finance")
    page = await finance.get("/statements?partner_id=p-a&from=2026-03-01&to=2026-03-31")
    assert "d-1" in words(page.text)
    assert 'href="/statements.csv?partner_id=p-a&amp;from=2026-03-01&amp;to=2026-03-31"' in (
        page.text)
    csv = await finance.get("/statements.csv?partner_id=p-a&from=2026-03-01&to=2026-03-31")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("date,deal_id,event")
    assert ",d-1," in csv.text
    backwards = await finance.read("/statements?partner_id=p-a&from=2026-03-31&to=2026-03-01",
                                   status=422)
    assert "must not be before from" in backwards
    partner = await signed_in(api, "portal-b")
    own = await partner.read("/statement?from=2026-03-01&to=2026-03-31")
    assert "d-1" not in own
    assert "Nothing in this period" in own


async def test_the_audit_page_verifies_every_chain_and_names_the_first_broken_link(
        api: Api) -> None:
    auditor = await signed_in(api, "auditor-1")
    page = await auditor.read("/audit")
    assert "Every hash chain verifies" in page
    export = await auditor.get("/audit/export")
    assert export.headers["content-type"] == "application/x-ndjson"
    assert len(export.text.splitlines()) > 3
    assert ACME_CONTACT not in export.text
    for service in ("registration", "conflict", "payouts"):
        assert f" {service} " in page
    history = await auditor.read("/audit/history?id=d-1")
    assert "payouts · DealPayouts.ClosedAndCalculated" in history
    assert "registration · DealRegistration.Approved" in history

    # Someone with file access removes the refusing trigger and rewrites an amount.
    with sqlite3.connect(api.settings.data_dir / "payouts.sqlite") as db:
        db.execute("DROP TRIGGER stored_events_refuse_update")
        position, state = db.execute("SELECT rowid, state FROM stored_events "
                                     "WHERE topic LIKE '%Calculated'").fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                   (bytes(state).replace(b"100000.00", b"900000.00"), position))
    broken = await auditor.read("/audit")
    assert "A hash chain is broken" in broken
    assert f"payouts {position - 1} " in broken
    assert f"payouts position {position} (DealPayouts.ClosedAndCalculated" in broken


async def test_signing_out_or_revoking_the_token_ends_the_session(api: Api) -> None:
    ops = await signed_in(api, "ops-lead")
    cookie = ops.client.cookies[COOKIE]
    out = await ops.send("/disputes", "/signout", {})
    assert (out.status_code, out.headers["location"]) == (303, "/signin?why=signed-out")
    assert "You are signed out." in await ops.read("/signin?why=signed-out")
    stale = person(api)
    stale.client.cookies.set(COOKIE, cookie)
    assert (await stale.get("/disputes")).status_code == 303

    auditor = await signed_in(api, "auditor-1")
    api.stores.tokens.revoke("auditor-1", now())
    revoked = await auditor.get("/audit")
    assert revoked.headers["location"] == "/signin?next=%2Faudit&why=revoked"
    assert "Your token was revoked" in await auditor.read(revoked.headers["location"])


async def test_errors_are_pages_for_people_and_problems_for_the_api(api: Api) -> None:
    ops: Person = await signed_in(api, "ops-lead")
    missing = await ops.get("/disputes/x-none")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "no dispute 'x-none'" in words(missing.text)
    bad_date = await ops.read("/accounts?account=acme.example&as_of=yesterday", status=422)
    assert "as of: must be a date, as 2026-03-05" in bad_date
    nowhere = await ops.get("/no-such-page")
    assert (nowhere.status_code, nowhere.headers["content-type"][:9]) == (404, "text/html")
    api_missing = await api.get("ops-lead", "/api/v1/disputes/x-none")
    assert api_missing.headers["content-type"] == "application/problem+json"
    held = await ops.read("/accounts?account=acme.example&as_of=2026-03-05")
    assert "Held by r-1 of p-a" in held


async def test_a_partner_disputes_a_denial_from_its_registrations_page(api: Api) -> None:
    api.bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-3", "p-b", domain=ACME, submitted_at="2026-03-10T00:00:00Z"))
    partner = await signed_in(api, "portal-b")
    page = await partner.read("/registrations/r-3")
    assert "Dispute this decision" in page
    empty = await partner.send("/registrations/r-3", "/registrations/r-3/dispute",
                               {"evidence": " "})
    assert empty.status_code == 422
    assert 'id="evidence-error">must not be empty' in empty.text
    sent = await partner.send("/registrations/r-3", "/registrations/r-3/dispute",
                              {"evidence": "We demoed to Acme in February."})
    assert sent.headers["location"] == "/registrations/r-3?disputed=true"
    [event] = api.deliver()
    assert (event["type"], event["data"]["registration_id"], event["data"]["evidence"]) == (
        "dealreg.dispute.raised.v1", "r-3", "We demoed to Acme in February.")
    assert "Your dispute was sent" in await partner.read(sent.headers["location"])
    again = await partner.send("/registrations/r-3", "/registrations/r-3/dispute",
                               {"evidence": "Again."})
    assert again.status_code == 409
    assert "is already disputed" in words(again.text)
    holder = await signed_in(api, "portal-a")
    assert "Dispute this decision" not in await holder.read("/registrations/r-1")


async def test_a_long_list_has_a_next_page(api: Api) -> None:
    for number in range(LIMIT + 1):
        api.bus.send("registrations.requests.v1", ev.registration_submitted(
            f"r-many-{number:03}", "p-b", domain=f"many-{number}.example",
            submitted_at=f"2026-04-01T00:{number // 60:02}:{number % 60:02}Z"))
    api.project()
    partner = await signed_in(api, "portal-b")
    first = await partner.get("/registrations?status=approved")
    assert first.text.count('href="/registrations/r-many-') == LIMIT
    assert "r-many-100" in first.text
    following = first.text.split('<a class="button" href="')[-1].split('">Next page')[0]
    assert following.startswith("/registrations?status=approved&amp;cursor=")
    second = await partner.get(html.unescape(following))
    assert second.text.count('href="/registrations/r-many-') == 1
    assert 'href="/registrations/r-many-000"' in second.text
    assert "Next page" not in second.text


async def test_a_partner_asks_for_an_extension_and_withdraws_from_the_registration_page(
        api: Api) -> None:
    partner = await signed_in(api, "portal-a")
    assert "Ask for an extension" in await partner.read("/registrations/r-1")
    bad = await partner.send("/registrations/r-1", "/registrations/r-1/extension",
                             {"days": "0"})
    assert bad.status_code == 422
    assert 'id="days-error">' in bad.text
    asked = await partner.send("/registrations/r-1", "/registrations/r-1/extension",
                               {"days": "15"})
    assert asked.headers["location"] == "/registrations/r-1?asked=extension"
    [extension] = api.deliver()
    assert (extension["type"], extension["data"]["days"], extension["data"]["partner_id"]) == (
        "dealreg.registration.extension_requested.v1", 15, "p-a")
    withdrawn = await partner.send("/registrations/r-1", "/registrations/r-1/withdrawal", {})
    assert withdrawn.headers["location"] == "/registrations/r-1?asked=withdrawal"
    [withdrawal] = api.deliver()
    assert (withdrawal["type"], withdrawal["data"]["registration_id"]) == (
        "dealreg.registration.withdrawn.v1", "r-1")
    page = await partner.read("/registrations/r-1")
    assert "Withdraw the registration" not in page
    other = await signed_in(api, "portal-b")
    refused = await other.send("/registrations/r-2", "/registrations/r-1/withdrawal", {})
    assert refused.status_code == 404
    assert api.produced.take() == []
