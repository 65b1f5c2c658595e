"""Sales ops' endpoints on real stores: disputes listed with their age, one dispute with its
timeline, replay and the parties' case, resolved through the API by the token's holder and
refused as ``dealreg disputes resolve`` refuses; who held an account; partners' metrics;
manual adjustments and a policy's simulation, as the command line gives them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from dealreg.actions.salesops import adjustment_id
from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.services.conflict import salesops
from dealreg.services.payouts import reports
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.api import Api, running_api
from tests.support.contract import assert_valid_event

ACME, BETA = "acme.example", "beta.example"


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """r-1 (p-a) holds acme; r-2 (p-b) lost it and p-b disputes (x-1, open); on beta r-3
    (p-a) and r-4 (p-b) went the same way, and x-2 was settled for r-4."""
    async with running_api(settings) as running:
        bus = running.bus
        for registration_id, partner_id, domain, day in (
                ("r-1", "p-a", ACME, "01"), ("r-2", "p-b", ACME, "02"),
                ("r-3", "p-a", BETA, "03"), ("r-4", "p-b", BETA, "04")):
            bus.send("registrations.requests.v1", ev.registration_submitted(
                registration_id, partner_id, domain=domain,
                submitted_at=f"2026-03-{day}T00:00:00Z"))
        bus.send("salesops.v1", ev.dispute_raised("x-2", "r-4", raised_at="2026-03-05T00:00:00Z"))
        bus.send("salesops.v1", ev.dispute_resolved("x-2", {"registration_id": "r-4"},
                                                    resolved_at="2026-03-08T12:00:00Z"))
        bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-03-06T00:00:00Z"))
        running.project()
        yield running


async def test_disputes_are_listed_open_first_with_their_age(api: Api) -> None:
    listed = (await api.get("ops-lead", "/api/v1/disputes")).json()["disputes"]
    assert [(d["dispute_id"], d["status"]) for d in listed] == [("x-1", "open"),
                                                                ("x-2", "settled")]
    assert listed[1]["age_days"] == 3.5  # opened on the 5th, settled on the 8th at noon
    assert listed[0]["age_days"] > 200  # open since 2026-03-06, by the wall clock
    assert (listed[0]["kind"], listed[0]["opened_at"], sorted(listed[0]["registration_ids"])
            ) == ("partner_vs_partner", "2026-03-06T00:00:00Z", ["r-1", "r-2"])
    settled = await api.get("ops-lead", "/api/v1/disputes", params={"status": "settled"})
    assert [d["dispute_id"] for d in settled.json()["disputes"]] == ["x-2"]
    assert (await api.get("ops-lead", "/api/v1/disputes", params={"status": "lost"})
            ).status_code == 422


async def test_a_dispute_shows_its_timeline_replay_and_the_parties_case(api: Api) -> None:
    answer = await api.get("ops-lead", "/api/v1/disputes/x-2")
    dispute = answer.json()
    assert (dispute["dispute_id"], dispute["account_key"], dispute["status"]) == (
        "x-2", "domain:beta.example", "settled")
    assert (dispute["kind"], sorted(dispute["registration_ids"]), dispute["opened_at"]) == (
        "partner_vs_partner", ["r-3", "r-4"], "2026-03-05T00:00:00Z")
    assert [e["event"] for e in dispute["timeline"]] == [
        e["event"] for e in salesops.timeline(api.stores.conflict, "x-2")["timeline"]]
    assert "DisputeSettled" in [e["event"] for e in dispute["timeline"]]
    assert dispute["replay"]["reproduced"] is True
    assert {d["registration_id"] for d in dispute["replay"]["decisions"]} == {"r-3", "r-4"}
    assert dispute["evidence"] == [{
        "registration_id": "r-4", "partner_id": "p-b", "raised_at": "2026-03-05T00:00:00Z",
        "evidence": "We met the buyer first; see the attached meeting notes."}]
    assert dispute["resolution"] == {
        "winner": {"registration_id": "r-4"}, "resolved_by": "ops-lead-1",
        "rationale": "Partner evidence predates the opportunity.",
        "settled_at": "2026-03-08T12:00:00Z"}
    missing = await api.get("ops-lead", "/api/v1/disputes/x-none")
    assert (missing.status_code, missing.json()["detail"]) == (404, "no dispute 'x-none'")


RESOLUTION = {"winner_registration_id": "r-2", "rationale": "p-b met the buyer first",
              "resolved_at": "2026-03-10T09:00:00Z"}


async def test_a_resolution_is_sent_by_the_tokens_holder_and_settles_the_dispute(
        api: Api) -> None:
    answer = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution", RESOLUTION)
    assert answer.status_code == 202
    topic, key, event = api.sent()
    assert (topic, key) == ("salesops.v1", b"x-1")
    assert_valid_event(event, topic)
    assert (event["type"], event["source"], event["subject"], event["time"]) == (
        "dealreg.dispute.resolved.v1", "/salesops", "x-1", "2026-03-10T09:00:00Z")
    assert event["data"] == {"dispute_id": "x-1", "winner": {"registration_id": "r-2"},
                             "resolved_at": "2026-03-10T09:00:00Z", "resolved_by": "ops-lead",
                             "rationale": "p-b met the buyer first"}
    assert answer.json() == {"topic": "salesops.v1", "event": event}

    api.bus.send(topic, event)
    settled = (await api.get("ops-lead", "/api/v1/disputes/x-1")).json()
    assert (settled["status"], settled["resolution"]["resolved_by"]) == ("settled", "ops-lead")
    again = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution", RESOLUTION)
    assert again.status_code == 409
    assert again.json()["detail"].startswith("dispute 'x-1' is already settled")
    assert api.produced.take() == []


async def test_a_resolution_is_refused_as_the_command_line_refuses_it(api: Api) -> None:
    unknown = await api.post("ops-lead", "/api/v1/disputes/x-9/resolution", RESOLUTION)
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no dispute 'x-9'")
    stranger = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution",
                              RESOLUTION | {"winner_registration_id": "r-3"})
    assert stranger.status_code == 409
    assert stranger.json()["detail"].startswith(
        "registration 'r-3' is not part of dispute 'x-1'")
    both = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution",
                          RESOLUTION | {"direct": True})
    assert both.status_code == 422
    assert "exactly one winner" in both.json()["detail"]
    silent = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution",
                            RESOLUTION | {"rationale": "  "})
    assert [e["field"] for e in silent.json()["errors"]] == ["rationale"]
    by_whom = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution",
                             RESOLUTION | {"resolved_by": "someone-else"})
    assert [e["field"] for e in by_whom.json()["errors"]] == ["resolved_by"]
    assert api.produced.take() == []
    direct = await api.post("ops-lead", "/api/v1/disputes/x-1/resolution",
                            {"direct": True, "rationale": "our team was first"})
    assert direct.status_code == 202
    assert api.sent()[2]["data"]["winner"] == {"direct": True}


async def test_who_held_an_account_at_an_instant(api: Api) -> None:
    answer = await api.get("ops-lead", "/api/v1/accounts/domain:acme.example",
                           params={"as_of": "2026-03-03T00:00:00Z"})
    account = answer.json()
    assert account["holder"] == {
        "registration_id": "r-1", "partner_id": "p-a", "protected_from": "2026-03-01T00:00:00Z",
        "expires_at": "2026-04-15T00:00:00Z", "why": "first to register with no conflict (rule 6)"}
    assert [r["registration_id"] for r in account["registrations"]] == ["r-1", "r-2"]
    by_domain = await api.get("ops-lead", "/api/v1/accounts/acme.example",
                              params={"as_of": "2026-03-03T00:00:00Z"})
    assert by_domain.json() == account
    before = await api.get("ops-lead", "/api/v1/accounts/domain:acme.example",
                           params={"as_of": "2026-02-01T00:00:00Z"})
    assert before.json()["holder"] is None
    assert (await api.get("ops-lead", "/api/v1/accounts/domain:none.example")
            ).status_code == 404
    naive = await api.get("ops-lead", "/api/v1/accounts/acme.example",
                          params={"as_of": "2026-03-03T00:00:00"})
    assert [(e["location"], e["field"]) for e in naive.json()["errors"]] == [("query", "as_of")]


async def test_partners_metrics_and_ranking_with_money_as_amount_and_currency(
        api: Api) -> None:
    api.bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1", domain=ACME,
                                          amount="1000.00", currency="USD"))
    api.project()
    ranked = (await api.get("ops-lead", "/api/v1/partners", params={"currency": "USD"})).json()
    assert [p["partner_id"] for p in ranked["partners"]] == ["p-a", "p-b"]
    first = ranked["partners"][0]
    assert first["partner_sourced_revenue"] == [{"amount": "1000.00", "currency": "USD"}]
    assert first["payouts"] == [{"amount": "250.00", "currency": "USD"}]
    assert first["pipeline_value"] == [{"amount": "50000.00", "currency": "EUR"}]
    partner = (await api.get("ops-lead", "/api/v1/partners/p-a")).json()
    assert (partner["registrations_submitted"], partner["registrations_approved"]) == (2, 2)
    assert partner["deals"] == [{"deal_id": "d-1", "sourced": "partner",
                                 "closed_at": "2026-04-10T00:00:00Z",
                                 "net": {"amount": "250.00", "currency": "USD"},
                                 "value": {"amount": "1000.00", "currency": "USD"}}]
    assert (await api.get("ops-lead", "/api/v1/partners/p-none")).status_code == 404
    by_rate = await api.get("ops-lead", "/api/v1/partners", params={"by": "win-rate",
                                                                    "limit": 1})
    assert [p["partner_id"] for p in by_rate.json()["partners"]] == ["p-a"]
    assert (await api.get("ops-lead", "/api/v1/partners", params={"limit": 0})
            ).status_code == 422


ADJUSTMENT: dict[str, Any] = {
    "deal_id": "d-1", "partner_id": "p-a", "amount": {"amount": "75", "currency": "USD"},
    "reason": "Goodwill for the delayed go-live", "requested_at": "2026-05-15T00:00:00Z"}


async def test_a_manual_adjustment_is_sent_as_payouts_adjust_sends_it(api: Api) -> None:
    api.bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1", domain=ACME,
                                          amount="1000.00", currency="USD"))
    answer = await api.post("ops-lead", "/api/v1/payouts/adjustments", ADJUSTMENT)
    assert answer.status_code == 202
    topic, key, event = api.sent()
    expected_id = adjustment_id("d-1", "p-a", Decimal("75.00"), "USD",
                                reason=ADJUSTMENT["reason"], by="ops-lead",
                                at=datetime(2026, 5, 15, tzinfo=UTC))
    assert (topic, key, answer.json()["adjustment_id"]) == ("salesops.v1", b"d-1", expected_id)
    assert_valid_event(event, topic)
    assert event["data"] == {
        "adjustment_id": expected_id, "deal_id": "d-1", "partner_id": "p-a",
        "amount": {"amount": "75.00", "currency": "USD"}, "reason": ADJUSTMENT["reason"],
        "requested_by": "ops-lead", "requested_at": "2026-05-15T00:00:00Z"}
    [adjusted] = [e for _, e in _published_after(api, topic, event)
                  if e["type"] == "dealreg.payout.adjusted.v1"]
    assert (adjusted["data"]["reason"], adjusted["data"]["delta"]) == (
        "manual", {"amount": "75.00", "currency": "USD"})


def _published_after(api: Api, topic: str, event: dict[str, Any]) -> list[tuple[str, Any]]:
    published = len(api.bus.published)
    api.bus.send(topic, event)
    return api.bus.published[published:]


@pytest.mark.parametrize(("amount", "message"), [
    ({"amount": "0.001", "currency": "USD"}, "is not in cents"),
    ({"amount": "0.00", "currency": "USD"}, "must not be zero"),
    ({"amount": "10", "currency": "EUX"}, "unknown ISO 4217 currency code"),
    ({"amount": 10, "currency": "USD"}, "must be a decimal string"),
])
async def test_an_adjustment_is_in_cents_of_a_real_currency_and_not_zero(
        api: Api, amount: dict[str, Any], message: str) -> None:
    answer = await api.post("ops-lead", "/api/v1/payouts/adjustments",
                            ADJUSTMENT | {"amount": amount})
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["field"].startswith("amount")
    assert message in error["message"]
    assert api.produced.take() == []


BOOST = ev.policy_published("boost", effective_from="2026-04-01T00:00:00Z", retroactive=True,
                            time="2026-06-01T00:00:00Z",
                            commission_rates={"referral": {"gold": "0.30"}})


async def test_a_policy_simulation_says_what_policy_simulate_says(api: Api) -> None:
    api.bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1", domain=ACME,
                                          amount="1000.00"))
    published = len(api.bus.published)
    for body in (BOOST, BOOST["data"]):
        answer = await api.post("ops-lead", "/api/v1/policies/simulations", body)
        assert answer.status_code == 200, answer.text
        simulated = answer.json()
        data = PolicyPublished.model_validate(BOOST["data"])
        changes = reports.simulate_policy(api.stores.payouts, data)
        assert simulated == {
            "policy_id": "boost", "version": 1, "already_published": False,
            "summary": reports.simulation_summary(data, changes),
            "changes": [reports.change_document(change) for change in changes or []],
            "partners": [{"partner_id": "p-a", "delta": {"amount": "50.00",
                                                         "currency": "EUR"}}]}
        assert simulated["changes"][0]["delta"] == {"amount": "50.00", "currency": "EUR"}
    assert len(api.bus.published) == published  # nothing published, nothing stored
    assert api.produced.take() == []

    wrong = await api.post("ops-lead", "/api/v1/policies/simulations",
                           BOOST["data"] | {"version": "first"})
    assert [e["field"] for e in wrong.json()["errors"]] == ["version"]
    envelope = await api.post("ops-lead", "/api/v1/policies/simulations",
                              BOOST | {"data": BOOST["data"] | {"holding_days": -1}})
    assert envelope.status_code == 422
    assert [e["field"] for e in envelope.json()["errors"]] == ["data.holding_days"]
