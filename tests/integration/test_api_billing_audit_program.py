"""Billing's, auditors' and program ops' endpoints on real stores: any partner's statement
and the payouts due by a date; an id's history, the verification of the hash chains and the
export, as ``dealreg audit`` gives them; enrollments and tier changes sent as ``dealreg
partners enroll|tier`` sends them, and the policy in force."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from dealreg import audit
from dealreg.services.program_policy import in_force, policy_document, stored_policies
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.api import Api, running_api
from tests.support.contract import assert_valid_event


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """r-1 of p-a approved on acme, its deal d-1 won (payable after a 30-day holding period
    from the autumn policy on) and refunded: a payout and its clawback."""
    async with running_api(settings) as running:
        bus = running.bus
        bus.send("program.v1", ev.policy_published(
            "autumn", effective_from="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00Z",
            holding_days=30))
        bus.send("registrations.requests.v1", ev.registration_submitted(
            "r-1", "p-a", submitted_at="2026-03-01T00:00:00Z"))
        bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1",
                                          closed_at="2026-04-10T00:00:00Z"))
        bus.send("crm.v1", ev.deal_refunded("d-1", "2026-05-20T00:00:00Z"))
        running.project()
        yield running


async def test_billing_reads_any_partners_statement_as_json_and_csv(api: Api) -> None:
    query = {"from": "2026-04-01", "to": "2026-05-31"}
    statement = (await api.get("finance", "/api/v1/statements/p-a", params=query)).json()
    assert [(r["event"], r["date"], r["amount"]) for r in statement["rows"]] == [
        ("payout.calculated", "2026-04-10", {"amount": "25000.00", "currency": "EUR"}),
        ("payout.adjusted", "2026-05-20", {"amount": "-25000.00", "currency": "EUR"})]
    assert statement["totals"] == [{"amount": "0.00", "currency": "EUR"}]
    csv = await api.get("finance", "/api/v1/statements/p-a", params=query,
                        headers={"Accept": "text/csv, application/json;q=0.5"})
    lines = csv.text.splitlines()
    assert lines[0] == "date,deal_id,event,payout_id,sequence,reason,amount,currency,lines"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["2026-04-10", "d-1", "payout.calculated"], ["2026-05-20", "d-1", "payout.adjusted"]]
    json_first = await api.get("finance", "/api/v1/statements/p-a", params=query,
                               headers={"Accept": "application/json, text/csv"})
    assert json_first.headers["content-type"] == "application/json"
    missing = await api.get("finance", "/api/v1/statements/p-a", params={"from": "2026-04-01"})
    assert [(e["location"], e["field"]) for e in missing.json()["errors"]] == [("query", "to")]


async def test_billing_reads_the_payouts_due_by_a_date_with_their_amounts(api: Api) -> None:
    before = (await api.get("finance", "/api/v1/payouts/due",
                            params={"until": "2026-05-09"})).json()
    assert before == {"until": "2026-05-09", "payouts": []}  # held for 30 days
    due = (await api.get("finance", "/api/v1/payouts/due",
                         params={"until": "2026-05-10"})).json()["payouts"]
    assert [(p["event"], p["payable_on"], p["amount"], p["deal_id"], p["partner_id"])
            for p in due] == [
        ("payout.calculated", "2026-05-10", {"amount": "25000.00", "currency": "EUR"},
         "d-1", "p-a"),
        ("payout.adjusted", "2026-05-10", {"amount": "-25000.00", "currency": "EUR"},
         "d-1", "p-a")]
    assert due[1]["clawback"] is True  # refunded after it became payable: may be paid
    [calculated] = [e for topic, e in api.bus.published
                    if e["type"] == "dealreg.payout.calculated.v1"]
    assert {k: v for k, v in due[0].items() if k not in ("event", "amount")} == (
        calculated["data"])  # as billing received it
    wrong = await api.get("finance", "/api/v1/payouts/due", params={"until": "soon"})
    assert [e["field"] for e in wrong.json()["errors"]] == ["until"]


async def test_auditors_read_a_history_the_verification_and_the_export(api: Api) -> None:
    history = (await api.get("auditor-1", "/api/v1/audit/history/d-1")).json()
    assert history["id"] == "d-1"
    assert history["events"] == json.loads(json.dumps(audit.history(api.stores.apps, "d-1")))
    assert {e["application"] for e in history["events"]} == {"registration", "conflict",
                                                             "payouts"}
    assert all(e["time"].endswith("Z") for e in history["events"])
    assert (await api.get("auditor-1", "/api/v1/audit/history/nothing")).status_code == 404

    verified = (await api.get("auditor-1", "/api/v1/audit/verification")).json()
    assert verified["verified"] is True
    assert [(c["application"], c["problem"]) for c in verified["chains"]] == [
        ("registration", None), ("conflict", None), ("payouts", None)]
    assert all(c["events"] > 0 for c in verified["chains"])

    export = await api.get("auditor-1", "/api/v1/audit/export")
    assert export.headers["content-type"] == "application/x-ndjson"
    expected = "".join(json.dumps(record, ensure_ascii=False) + "\n"
                       for record in audit.export(api.stores.apps))
    assert export.text == expected  # the lines of dealreg audit export
    assert "jo.buyer@acme.example" not in export.text  # personal data left out


async def test_program_ops_enroll_partners_and_change_their_tier(api: Api) -> None:
    answer = await api.post("program-ops", "/api/v1/partners", {
        "partner_id": "p-c", "name": "Contoso", "program": "msp", "tier": "silver",
        "enrolled_at": "2026-02-01T00:00:00Z"})
    assert answer.status_code == 202
    topic, key, event = api.sent()
    assert (topic, key) == ("partners.v1", b"p-c")
    assert_valid_event(event, topic)
    assert (event["type"], event["source"], event["time"], event["data"]) == (
        "dealreg.partner.enrolled.v1", "/partner-admin", "2026-02-01T00:00:00Z",
        {"partner_id": "p-c", "name": "Contoso", "program": "msp", "tier": "silver",
         "enrolled_at": "2026-02-01T00:00:00Z"})
    changed = await api.post("program-ops", "/api/v1/partners/p-c/tier",
                             {"tier": "gold", "effective_at": "2026-03-01T00:00:00Z"})
    assert changed.status_code == 202
    topic, key, tier = api.sent()
    assert (key, tier["type"], tier["data"]) == (
        b"p-c", "dealreg.partner.tier_changed.v1",
        {"partner_id": "p-c", "tier": "gold", "effective_at": "2026-03-01T00:00:00Z"})
    unknown = await api.post("program-ops", "/api/v1/partners",
                             {"partner_id": "p-d", "name": "D", "program": "wholesale",
                              "tier": "gold"})
    assert [e["field"] for e in unknown.json()["errors"]] == ["program"]
    undated = await api.post("program-ops", "/api/v1/partners/p-c/tier", {"tier": "gold"})
    assert [e["field"] for e in undated.json()["errors"]] == ["effective_at"]
    assert api.produced.take() == []


async def test_program_ops_read_the_policy_in_force_at_an_instant(api: Api) -> None:
    before = (await api.get("program-ops", "/api/v1/policy",
                            params={"at": "2025-12-31T23:59:59Z"})).json()
    assert before["policy_id"] == "default"
    after = (await api.get("program-ops", "/api/v1/policy",
                           params={"at": "2026-01-01T00:00:00Z"})).json()
    assert after == policy_document(in_force(stored_policies(api.stores.payouts),
                                             datetime(2026, 1, 1, tzinfo=UTC)))
    assert (after["policy_id"], after["holding_days"], after["effective_from"]) == (
        "autumn", 30, "2026-01-01T00:00:00Z")
    now = (await api.get("program-ops", "/api/v1/policy")).json()
    assert now["policy_id"] == "autumn"
