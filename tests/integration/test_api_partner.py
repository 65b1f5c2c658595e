"""The partner's endpoints on real stores: a registration submitted through the API is the
contract's registration.submitted for the token's partner, and once the services decided it
the partner reads its status, window and timeline; extensions, withdrawals, the
availability of an account and the partner's statement; nothing of another partner."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dealreg.actions.partner_portal import registration_id as derived_id
from dealreg.events.schemas.values import format_utc
from dealreg.services.payouts import reports
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.api import Api, running_api
from tests.support.contract import assert_valid_event


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_api(settings) as running:
        yield running


def registration(domain: str = "acme.example", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prospect": {"company_name": "Acme, Inc.", "domain": domain, "country": "US",
                     "segment": "mid"},
        "contact": {"name": "Jo Buyer", "email": "jo.buyer@acme.example"},
        "estimated_value": {"amount": "25000.00", "currency": "EUR"},
        "expected_close_date": "2026-05-01", "submitted_at": "2026-03-01T10:00:00Z"}
    return body | changes


async def registered(api: Api, holder: str, domain: str = "acme.example",
                     submitted_at: str = "2026-03-01T10:00:00Z") -> str:
    """A registration of ``holder``'s partner, submitted and decided; its id."""
    answer = await api.post(holder, "/api/v1/registrations",
                            registration(domain, submitted_at=submitted_at))
    assert answer.status_code == 202, answer.text
    api.deliver()
    found: str = answer.json()["registration_id"]
    return found


async def test_a_registration_is_sent_for_the_tokens_partner_and_read_once_approved(
        api: Api) -> None:
    answer = await api.post("portal-a", "/api/v1/registrations", registration(),
                            headers={"Idempotency-Key": "crm-lead-17"})
    assert answer.status_code == 202
    registration_id = derived_id("p-a", "crm-lead-17")
    assert answer.headers["location"] == f"/api/v1/registrations/{registration_id}"
    topic, key, event = api.sent()
    assert (topic, key) == ("registrations.requests.v1", registration_id.encode())
    assert_valid_event(event, topic)
    assert {k: event[k] for k in ("type", "source", "subject", "time")} == {
        "type": "dealreg.registration.submitted.v1", "source": "/partner-portal",
        "subject": registration_id, "time": "2026-03-01T10:00:00Z"}
    assert event["data"] == {"registration_id": registration_id, "partner_id": "p-a",
                             "submitted_at": "2026-03-01T10:00:00Z", **{
                                 k: v for k, v in registration().items()
                                 if k != "submitted_at"}}
    assert answer.json() == {"registration_id": registration_id,
                             "topic": "registrations.requests.v1", "event": event}

    pending = await api.get("portal-a", f"/api/v1/registrations/{registration_id}")
    assert pending.status_code == 404  # not stored yet: the services have not read it
    api.produced.messages.clear()
    api.bus.send(topic, event)
    api.project()
    read = (await api.get("portal-a", f"/api/v1/registrations/{registration_id}")).json()
    assert (read["status"], read["account_key"], read["rejection"]) == (
        "approved", "domain:acme.example", None)
    assert read["window"] == {"protected_from": "2026-03-01T10:00:00Z",
                              "expires_at": "2026-04-15T10:00:00Z", "withdrawn_at": None}
    assert read["estimated_value"] == {"amount": "25000.00", "currency": "EUR"}
    assert [(entry["event"], entry["time"]) for entry in read["timeline"]] == [
        ("registration.submitted", "2026-03-01T10:00:00Z"),
        ("registration.received", "2026-03-01T10:00:00Z"),
        ("registration.approved", "2026-03-01T10:00:00Z")]
    assert read["timeline"][2]["facts"]["window_days"] == 45  # referral, gold
    assert "jo.buyer" not in json.dumps(read)  # the contact is not read back

    again = await api.post("portal-a", "/api/v1/registrations", registration(),
                           headers={"Idempotency-Key": "crm-lead-17"})
    assert (again.status_code, again.json()) == (200, {"registration_id": registration_id})
    assert api.produced.take() == []  # stored already: nothing sent again


async def test_without_a_key_the_same_registration_gets_the_same_id(api: Api) -> None:
    first = await api.post("portal-a", "/api/v1/registrations", registration())
    second = await api.post("portal-a", "/api/v1/registrations", registration())
    other = await api.post("portal-b", "/api/v1/registrations", registration())
    ids = [answer.json()["registration_id"] for answer in (first, second, other)]
    assert ids[0] == ids[1] != ids[2]  # the partner is part of the id
    events = [event for _, _, event in api.produced.take()]
    assert events[0] == events[1]  # the same event: the services take it as a repeat


async def test_a_body_naming_a_partner_is_refused_and_nothing_is_sent(api: Api) -> None:
    answer = await api.post("portal-a", "/api/v1/registrations",
                            registration(partner_id="p-b"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["type"], problem["status"]) == ("/problems/invalid-request", 422)
    assert problem["errors"] == [{"location": "body", "field": "partner_id",
                                  "message": "Extra inputs are not permitted"}]
    assert api.produced.take() == []


@pytest.mark.parametrize(("change", "field"), [
    ({"prospect": {"company_name": "Acme", "country": "usa", "segment": "mid"}},
     "prospect.country"),
    ({"estimated_value": {"amount": 25000, "currency": "EUR"}}, "estimated_value.amount"),
    ({"submitted_at": "2026-03-01 10:00"}, "submitted_at"),
    ({"contact": {"name": "Jo"}}, "contact.email"),
])
async def test_a_malformed_registration_is_refused_naming_the_field(
        api: Api, change: dict[str, Any], field: str) -> None:
    answer = await api.post("portal-a", "/api/v1/registrations", registration(**change))
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert answer.json()["detail"].startswith(f"{field}: ")
    assert "jo.buyer" not in answer.text
    assert "25000" not in answer.text
    assert api.produced.take() == []


async def test_another_partners_registration_is_not_found_exactly_like_a_missing_one(
        api: Api) -> None:
    registration_id = await registered(api, "portal-a")
    theirs = await api.get("portal-b", f"/api/v1/registrations/{registration_id}")
    missing = await api.get("portal-b", "/api/v1/registrations/r-missing")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == missing.headers["content-type"]
    assert theirs.json() == {**missing.json(), "detail": f"no registration {registration_id!r}"}
    for path in ("extension", "withdrawal"):
        refused = await api.post("portal-b", f"/api/v1/registrations/{registration_id}/{path}",
                                 {"days": 10} if path == "extension" else {})
        assert refused.status_code == 404
    assert api.produced.take() == []
    assert (await api.get("portal-a", f"/api/v1/registrations/{registration_id}")
            ).status_code == 200


async def test_a_registration_that_lost_to_another_partners_does_not_name_it(
        api: Api) -> None:
    holder = await registered(api, "portal-a")
    loser = await registered(api, "portal-b", submitted_at="2026-03-02T10:00:00Z")
    read = await api.get("portal-b", f"/api/v1/registrations/{loser}")
    document = read.json()
    assert document["status"] == "rejected"
    assert document["rejection"] == {
        "reason": "conflict", "detail": "another partner's registration holds the account",
        "conflicting_registration_id": None}
    [rejected] = [e for e in document["timeline"] if e["event"] == "registration.rejected"]
    assert rejected["facts"]["conflicting_registration_id"] is None
    assert holder not in read.text
    assert "p-a" not in read.text


async def test_a_duplicate_names_the_partners_own_registration(api: Api) -> None:
    first = await registered(api, "portal-a")
    second = await registered(api, "portal-a", submitted_at="2026-03-02T10:00:00Z")
    rejection = (await api.get("portal-a", f"/api/v1/registrations/{second}")
                 ).json()["rejection"]
    assert (rejection["reason"], rejection["conflicting_registration_id"]) == (
        "duplicate", first)


async def test_the_partner_lists_its_registrations_by_status(api: Api) -> None:
    approved = await registered(api, "portal-a")
    rejected = await registered(api, "portal-a", submitted_at="2026-03-02T10:00:00Z")
    await registered(api, "portal-b", domain="other.example")
    listed = (await api.get("portal-a", "/api/v1/registrations")).json()["registrations"]
    assert [(r["registration_id"], r["status"]) for r in listed] == [
        (rejected, "rejected"), (approved, "approved")]  # the latest submitted first
    assert listed[1] | {"registration_id": None} == {
        "registration_id": None, "account_key": "domain:acme.example",
        "company_name": "Acme, Inc.", "status": "approved",
        "submitted_at": "2026-03-01T10:00:00Z",
        "estimated_value": {"amount": "25000.00", "currency": "EUR"},
        "protected_from": "2026-03-01T10:00:00Z", "expires_at": "2026-04-15T10:00:00Z",
        "withdrawn_at": None, "reason": None, "dispute_id": None}
    only = await api.get("portal-a", "/api/v1/registrations", params={"status": "rejected"})
    assert [r["registration_id"] for r in only.json()["registrations"]] == [rejected]
    wrong = await api.get("portal-a", "/api/v1/registrations", params={"status": "lost"})
    assert wrong.status_code == 422
    assert [(e["location"], e["field"]) for e in wrong.json()["errors"]] == [
        ("query", "status")]


async def test_an_extension_and_a_withdrawal_are_sent_and_decided(api: Api) -> None:
    registration_id = await registered(api, "portal-a")
    path = f"/api/v1/registrations/{registration_id}"
    asked = await api.post("portal-a", f"{path}/extension",
                           {"days": 20, "requested_at": "2026-04-01T00:00:00Z"})
    assert asked.status_code == 202
    topic, key, event = api.sent()
    assert (topic, key, event["type"], event["source"]) == (
        "registrations.requests.v1", registration_id.encode(),
        "dealreg.registration.extension_requested.v1", "/partner-portal")
    assert event["data"] == {"registration_id": registration_id, "partner_id": "p-a",
                             "days": 20, "requested_at": "2026-04-01T00:00:00Z"}
    api.bus.send(topic, event)
    extended = (await api.get("portal-a", path)).json()
    assert extended["window"]["expires_at"] == "2026-05-05T10:00:00Z"
    assert extended["timeline"][-1]["event"] == "registration.extended"

    refused = await api.post("portal-a", f"{path}/extension", {"days": 0})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["days"]

    withdrawn = await api.post("portal-a", f"{path}/withdrawal",
                               {"withdrawn_at": "2026-04-02T00:00:00Z"})
    assert withdrawn.status_code == 202
    topic, key, event = api.sent()
    assert (event["type"], event["data"]) == ("dealreg.registration.withdrawn.v1", {
        "registration_id": registration_id, "partner_id": "p-a",
        "withdrawn_at": "2026-04-02T00:00:00Z"})
    api.bus.send(topic, event)
    api.project()
    read = (await api.get("portal-a", path)).json()
    assert (read["status"], read["window"]["withdrawn_at"]) == (
        "withdrawn", "2026-04-02T00:00:00Z")
    listed = (await api.get("portal-a", "/api/v1/registrations",
                            params={"status": "withdrawn"})).json()["registrations"]
    assert [r["registration_id"] for r in listed] == [registration_id]


async def test_availability_says_nothing_about_another_partner(api: Api) -> None:
    query = {"company_name": "Acme, Inc.", "country": "US", "domain": "https://acme.example/"}
    free = await api.get("portal-a", "/api/v1/accounts/availability", params=query)
    assert free.json() == {"account_key": "domain:acme.example", "available": True,
                           "yours": False}
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    answer = await api.post("portal-a", "/api/v1/registrations", registration(
        "acme.example", submitted_at=format_utc(yesterday),
        expected_close_date=(yesterday + timedelta(days=60)).date().isoformat()))
    assert answer.status_code == 202
    api.deliver()
    mine = await api.get("portal-a", "/api/v1/accounts/availability", params=query)
    assert mine.json() == {"account_key": "domain:acme.example", "available": False,
                           "yours": True}
    theirs = await api.get("portal-b", "/api/v1/accounts/availability", params=query)
    assert theirs.json() == {"account_key": "domain:acme.example", "available": False,
                             "yours": False}
    by_name = await api.get("portal-b", "/api/v1/accounts/availability",
                            params={"company_name": "Beta GmbH", "country": "DE"})
    assert by_name.json()["account_key"] == "name:DE:beta"
    bad = await api.get("portal-b", "/api/v1/accounts/availability",
                        params=query | {"domain": "10.0.0.1"})
    assert bad.status_code == 422
    assert [(e["location"], e["field"]) for e in bad.json()["errors"]] == [("query", "domain")]


async def test_the_partner_reads_its_own_statement_as_json_and_csv(api: Api) -> None:
    registration_id = await registered(api, "portal-a")
    api.bus.send("crm.v1", ev.deal_closed("d-1", registration_id=registration_id,
                                          closed_at="2026-04-10T00:00:00Z"))
    query = {"from": "2026-04-01", "to": "2026-04-30"}
    answer = await api.get("portal-a", "/api/v1/statement", params=query)
    statement = answer.json()
    assert (statement["partner_id"], statement["from"], statement["to"]) == (
        "p-a", "2026-04-01", "2026-04-30")
    [row] = statement["rows"]
    assert (row["deal_id"], row["event"], row["date"], row["amount"]) == (
        "d-1", "payout.calculated", "2026-04-10", {"amount": "25000.00", "currency": "EUR"})
    assert statement["totals"] == [{"amount": "25000.00", "currency": "EUR"}]
    expected = reports.statement_csv(reports.statement(
        api.stores.payouts, "p-a", date(2026, 4, 1), date(2026, 4, 30))) + "\n"
    for csv in (await api.get("portal-a", "/api/v1/statement", params=query,
                              headers={"Accept": "text/csv"}),
                await api.get("portal-a", "/api/v1/statement",
                              params=query | {"format": "csv"})):
        assert csv.headers["content-type"] == "text/csv; charset=utf-8"
        assert csv.text == expected
        assert csv.text.startswith("date,deal_id,event,payout_id,sequence,reason,amount")
    other = (await api.get("portal-b", "/api/v1/statement", params=query)).json()
    assert other["rows"] == []
    assert other["totals"] == []
    backwards = await api.get("portal-a", "/api/v1/statement",
                              params={"from": "2026-04-30", "to": "2026-04-01"})
    assert backwards.status_code == 422
