"""The contract's events as pydantic models and generated JSON Schemas
(docs/contract.md §1-§3b, §7)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel

from dealreg.events.schemas import (
    EVENTS,
    TOPICS,
    BadInput,
    EventSpec,
    kafka_key,
    make_event,
    output_spec,
    parse_event,
)
from dealreg.events.schemas import outputs as out
from dealreg.events.schemas.envelope import _read_carefully, _valid_event
from dealreg.events.schemas.generate import (
    SCHEMA_DIR,
    asyncapi_document,
    schema_file_name,
    stale_files,
)
from dealreg.events.schemas.inputs import PolicyPublished, SubscriptionInvoiced
from dealreg.events.schemas.values import Money
from tests.support import events as ev

INPUT_EXAMPLES: dict[str, dict[str, Any]] = {
    "partner.enrolled": ev.partner_enrolled("p-1"),
    "partner.tier_changed": ev.partner_tier_changed("p-1", "platinum", "2026-02-01T00:00:00Z"),
    "policy.published": ev.policy_published(
        registration_window_days={"referral": {"gold": 50}},
        commission_rates={"reseller": {"platinum": "0.32"}},
        co_sell_split={"partner_sourced": "0.65", "direct_sourced": "0.35"},
        tier_bonuses=[{"tier": "gold", "qualify_by": "2026-04-01T00:00:00Z",
                       "closed_from": "2026-04-01T00:00:00Z",
                       "closed_to": "2026-06-30T23:59:59Z", "rate": "0.02"}],
        registration_capacity={"msp": {"bronze": 25, "platinum": None}},
        holding_days=30,
        revenue_share_rates={"msp": {"gold": "0.22"}},
        revenue_share_months=24,
    ),
    "registration.submitted": ev.registration_submitted("r-1", "p-1"),
    "registration.extension_requested": ev.extension_requested(
        "r-1", "p-1", 15, "2026-03-20T00:00:00Z"),
    "registration.withdrawn": ev.withdrawal_requested("r-1", "p-1", "2026-03-21T00:00:00Z"),
    "opportunity.opened": ev.opportunity_opened("o-1"),
    "deal.closed": ev.deal_closed("d-1", registration_id="r-1", co_sell=True,
                                  co_sell_partner_id="p-2", opportunity_id="o-1"),
    "deal.refunded": ev.deal_refunded("d-1"),
    "subscription.invoiced": ev.subscription_invoiced("inv-1", "d-1"),
    "dispute.raised": ev.dispute_raised("x-1", "r-1"),
    "dispute.resolved": ev.dispute_resolved("x-1", {"direct": True}),
    "payout.adjustment_requested": ev.adjustment_requested("adj-1", "d-1", "p-1",
                                                           amount="-40.00"),
}

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
EUR = "EUR"
LINE = out.PayoutLine(kind="commission", base=Money(amount=Decimal("1000.00"), currency=EUR),
                      rate=Decimal("0.25"), share=Decimal("1"),
                      amount=Money(amount=Decimal("250.00"), currency=EUR))
BASIS = out.PayoutBasis(program="referral", tier="gold", policy_id="default", policy_version=0,
                        sourced="partner")
SHARE_LINE = out.PayoutLine(kind="revenue_share",
                            base=Money(amount=Decimal("1000.00"), currency=EUR),
                            rate=Decimal("0.20"), share=Decimal("1"),
                            amount=Money(amount=Decimal("200.00"), currency=EUR))
MANUAL_LINE = out.PayoutLine(kind="manual", base=Money(amount=Decimal("-40.00"), currency=EUR),
                             rate=Decimal("1"), share=Decimal("1"),
                             amount=Money(amount=Decimal("-40.00"), currency=EUR))
MSP_BASIS = out.PayoutBasis(program="msp", tier="gold", policy_id="default", policy_version=0,
                            sourced="partner")
OUTPUT_EXAMPLES: dict[str, BaseModel] = {
    "registration.received": out.RegistrationReceived(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example",
        submitted_at=T, program="referral", tier="gold"),
    "registration.approved": out.RegistrationApproved(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example",
        protected_from=T, expires_at=T, window_days=45, policy_id="default", policy_version=0,
        via="auto"),
    "registration.rejected": out.RegistrationRejected(
        registration_id="r-2", partner_id="p-2", account_key="domain:acme.example",
        reason="over_capacity", conflicting_registration_id=None,
        detail="partner p-2 holds 25 open registrations; capacity 25"),
    "registration.under_review": out.RegistrationUnderReview(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example",
        dispute_id="x-1"),
    "registration.extended": out.RegistrationExtended(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example", days=15,
        expires_at=T),
    "registration.extension_denied": out.RegistrationExtensionDenied(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example", days=40,
        reason="too_long"),
    "registration.expired": out.RegistrationExpired(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example",
        expired_at=T),
    "registration.withdrawn": out.RegistrationWithdrawn(
        registration_id="r-1", partner_id="p-1", account_key="domain:acme.example",
        withdrawn_at=T),
    "claim.granted": out.ClaimGranted(registration_id="r-1", account_key="domain:acme.example"),
    "claim.denied": out.ClaimDenied(registration_id="r-2", account_key="domain:acme.example",
                                    reason="conflict", conflicting_registration_id="r-1"),
    "conflict.detected": out.ConflictDetected(
        account_key="domain:acme.example", kind="partner_vs_direct", registration_ids=["r-1"],
        opportunity_ids=["o-1"], detected_at=T),
    "dispute.opened": out.DisputeOpened(
        dispute_id="x-1", account_key="domain:acme.example", kind="late_earlier_submission",
        registration_ids=["r-1", "r-2"], opportunity_ids=[], opened_at=T),
    "dispute.settled": out.DisputeSettled(
        dispute_id="x-1", account_key="domain:acme.example",
        winner={"registration_id": "r-2"},
        approved_registration_id="r-2", rejected_registration_ids=["r-1"], settled_at=T),
    "payout.calculated": out.PayoutCalculated(
        payout_id="pay-1", deal_id="d-1", partner_id="p-1", registration_id="r-1", sequence=1,
        total=Money(amount=Decimal("250.00"), currency=EUR), lines=[LINE], basis=BASIS,
        invoice_id=None, payable_on=date(2026, 4, 9)),
    "payout.adjusted": out.PayoutAdjusted(
        payout_id="pay-2", deal_id="d-1", partner_id="p-1", sequence=2,
        delta=Money(amount=Decimal("-250.00"), currency=EUR),
        new_total=Money(amount=Decimal("0.00"), currency=EUR), reason="refund", lines=[],
        basis=BASIS, supersedes=["pay-1"], adjustment_id=None, payable_on=date(2026, 4, 9),
        clawback=True),
    "payout.withheld": out.PayoutWithheld(deal_id="d-2", account_key="domain:acme.example",
                                          reason="no_registration"),
    "payout.adjustment_rejected": out.PayoutAdjustmentRejected(
        adjustment_id="adj-1", deal_id="d-1", partner_id="p-1", reason="currency_mismatch",
        detail="the adjustment is in USD, the deal in EUR"),
    "message.rejected": out.MessageRejected(
        topic="crm.v1", partition=2, offset=17, key="d-9", error="value: malformed JSON",
        original="{oops", original_encoding="utf-8"),
}


def validator_for(spec: EventSpec) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / schema_file_name(spec)).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema_errors(spec: EventSpec, document: object) -> list[str]:
    return [error.message for error in validator_for(spec).iter_errors(document)]


def test_generated_files_are_current() -> None:
    assert stale_files() == [], "run: python -m dealreg.events.schemas.generate"


def test_every_event_has_an_example() -> None:
    inputs = {spec.name for spec in EVENTS if spec.direction == "input"}
    outputs = {spec.name for spec in EVENTS if spec.direction == "output"}
    assert inputs == set(INPUT_EXAMPLES)
    assert outputs == set(OUTPUT_EXAMPLES)


@pytest.mark.parametrize("spec", [s for s in EVENTS if s.direction == "input"],
                         ids=lambda s: s.name)
def test_input_examples_are_valid_for_pydantic_and_json_schema(spec: EventSpec) -> None:
    document = INPUT_EXAMPLES[spec.name]
    parsed = parse_event(ev.encode(document), spec.topic)
    assert parsed.spec is spec
    assert schema_errors(spec, document) == []


@pytest.mark.parametrize("spec", [s for s in EVENTS if s.direction == "output"],
                         ids=lambda s: s.name)
def test_output_events_round_trip_and_match_their_json_schema(spec: EventSpec) -> None:
    event = make_event(spec.name, id="0b8e7f1e-1111-4a6d-9a11-222233334444",
                       source="/dealreg/test", time=T, data=OUTPUT_EXAMPLES[spec.name])
    value = event.to_bytes()
    document = json.loads(value)
    assert schema_errors(spec, document) == []
    assert document["time"] == "2026-03-01T10:00:00Z"
    assert document["datacontenttype"] == "application/json"
    assert parse_event(value, spec.topic).envelope == event


def test_money_is_a_decimal_string_on_the_wire() -> None:
    document = json.loads(make_event(
        "payout.adjusted", id="i", source="/s", time=T,
        data=OUTPUT_EXAMPLES["payout.adjusted"]).to_bytes())
    assert document["data"]["delta"] == {"amount": "-250.00", "currency": "EUR"}
    assert document["data"]["lines"] == []
    assert document["data"]["supersedes"] == ["pay-1"]


def test_times_are_normalised_to_utc() -> None:
    document = ev.registration_submitted("r-1", "p-1", submitted_at="2026-03-01T12:00:00+02:00")
    parsed = parse_event(ev.encode(document), "registrations.requests.v1")
    assert parsed.envelope.data.submitted_at == T


def test_unknown_extra_fields_are_ignored() -> None:
    document = ev.registration_submitted("r-1", "p-1")
    document["data"]["crm_hint"] = {"anything": [1, 2]}
    document["data"]["prospect"]["employees"] = 5000
    document["traceparent"] = "00-abc-def-01"
    assert parse_event(ev.encode(document), "registrations.requests.v1").name == (
        "registration.submitted"
    )


def _submitted_with(change: Any) -> bytes:
    document = ev.registration_submitted("r-1", "p-1")
    change(document)
    return ev.encode(document)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"", "value: the message is empty"),
        (b"{", "value: malformed JSON"),
        (b'{"id": "x', "value: malformed JSON: Unterminated string starting (line 1, column 8)"),
        (b"\xc3\x28", "value: not UTF-8"),
        (b'"just a string"', "value: a CloudEvent is a JSON object, not str"),
        (b"[" * 100_000 + b"]" * 100_000, "value: malformed JSON"),
        (b'{"type": "dealreg.registration.submitted.v1", "x": ' + b"9" * 5000 + b"}",
         "value: malformed JSON"),
        (_submitted_with(lambda d: d["data"]["estimated_value"].update(amount=float("nan"))),
         "value: malformed JSON: NaN is not a JSON value"),
        (b'{"type": "x"}' + b" " * (1024 * 1024), "over the limit of 1048576"),
        (_submitted_with(lambda d: d.pop("type")), "type: missing"),
        (_submitted_with(lambda d: d.update(type="dealreg.unheard.of.v1")),
         "type: unknown event type 'dealreg.unheard.of.v1'"),
        (_submitted_with(lambda d: d.update(type="dealreg.deal.closed.v1")),
         "type: 'dealreg.deal.closed.v1' does not belong on topic 'registrations.requests.v1'"),
        (_submitted_with(lambda d: d.update(specversion="0.3")), "specversion:"),
        (_submitted_with(lambda d: d.pop("id")), "id: Field required"),
        (_submitted_with(lambda d: d.update(time="2026-03-01T10:00:00")), "time:"),
        (_submitted_with(lambda d: d["data"].pop("partner_id")), "data.partner_id: Field required"),
        (_submitted_with(lambda d: d["data"]["estimated_value"].update(amount=25000.5)),
         "data.estimated_value.amount: must be a decimal string"),
        (_submitted_with(lambda d: d["data"]["estimated_value"].update(amount="1e30")),
         "data.estimated_value.amount: must be a decimal string with at most 15 integer digits"),
        (_submitted_with(lambda d: d["data"]["estimated_value"].update(currency="euro")),
         "data.estimated_value.currency:"),
        (_submitted_with(lambda d: d["data"]["prospect"].update(country="Germany")),
         "data.prospect.country:"),
        (_submitted_with(lambda d: d["data"].update(expected_close_date="2026-13-01")),
         "data.expected_close_date:"),
        (_submitted_with(lambda d: d["data"]["prospect"].update(company_name="x" * 501)),
         "data.prospect.company_name:"),
        (_submitted_with(lambda d: d["data"]["prospect"].update(segment="galactic")),
         "data.prospect.segment:"),
    ],
)
def test_bad_input_names_the_problem(value: bytes, expected: str) -> None:
    with pytest.raises(BadInput) as raised:
        parse_event(value, "registrations.requests.v1")
    assert expected in raised.value.error


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["data"].update(retroactive="false"), "data.retroactive"),
    (lambda d: d["data"].update(version="1"), "data.version"),
    (lambda d: d["data"].update(effective_from=1767225600), "data.effective_from"),
])
def test_wrong_types_are_not_coerced(change: Any, field: str) -> None:
    policy = ev.policy_published()
    change(policy)
    with pytest.raises(BadInput, match=field):
        parse_event(ev.encode(policy), "program.v1")


@pytest.mark.parametrize("winner", [{"direct": 1}, {"direct": False},
                                    {"registration_id": "r-1", "direct": True}, {}])
def test_a_dispute_winner_is_exactly_one_of_the_two_forms(winner: dict[str, Any]) -> None:
    with pytest.raises(BadInput, match=r"data\.winner"):
        parse_event(ev.encode(ev.dispute_resolved("x-1", winner)), "salesops.v1")


def test_a_negative_deal_value_is_bad_input() -> None:
    deal = ev.deal_closed("d-1", amount="-5.00")
    with pytest.raises(BadInput, match=r"data\.first_year_value: Value error, a deal's|"
                                       r"data\.first_year_value: a deal's"):
        parse_event(ev.encode(deal), "crm.v1")


def test_a_deal_in_an_unknown_currency_is_bad_input() -> None:
    deal = ev.deal_closed("d-1", currency="XXQ")
    with pytest.raises(BadInput, match=r"data\.first_year_value: .*unknown ISO 4217 currency "
                                       "code 'XXQ'"):
        parse_event(ev.encode(deal), "crm.v1")


@pytest.mark.parametrize("instant", ["1700000000", "2026-02-30T00:00:00Z", "2026-03-01",
                                     "2026-03-01T00:00:00"])
def test_a_timestamp_is_rfc3339_text_with_an_offset(instant: str) -> None:
    deal = ev.deal_closed("d-1", closed_at=instant)
    with pytest.raises(BadInput, match=r"data\.closed_at"):
        parse_event(ev.encode(deal), "crm.v1")


def test_well_formed_but_unknown_codes_are_left_to_the_business_rules() -> None:
    document = ev.registration_submitted("r-1", "p-1", country="ZZ", currency="ABC")
    parsed = parse_event(ev.encode(document), "registrations.requests.v1")
    assert parsed.name == "registration.submitted"


def test_a_backdated_non_retroactive_policy_is_bad_input() -> None:
    backdated = ev.policy_published(effective_from="2026-03-01T00:00:00Z",
                                    time="2026-03-15T00:00:00Z", retroactive=False)
    with pytest.raises(BadInput, match=r"data\.effective_from: a policy with retroactive false"):
        parse_event(ev.encode(backdated), "program.v1")
    retroactive = ev.policy_published(effective_from="2026-03-01T00:00:00Z",
                                      time="2026-03-15T00:00:00Z", retroactive=True)
    assert parse_event(ev.encode(retroactive), "program.v1").name == "policy.published"


def test_a_tier_bonus_must_qualify_before_its_window() -> None:
    policy = ev.policy_published(tier_bonuses=[{
        "tier": "gold", "qualify_by": "2026-05-01T00:00:00Z",
        "closed_from": "2026-04-01T00:00:00Z", "closed_to": "2026-06-30T00:00:00Z",
        "rate": "0.02"}])
    with pytest.raises(BadInput, match=r"data\.tier_bonuses\.0: qualify_by must not be after"):
        parse_event(ev.encode(policy), "program.v1")


def test_rates_are_decimal_strings_between_zero_and_one() -> None:
    for rate, problem in ((0.2, "must be a decimal string"), ("1.5", "between 0 and 1")):
        policy = ev.policy_published(commission_rates={"referral": {"gold": rate}})
        with pytest.raises(BadInput, match=problem):
            parse_event(ev.encode(policy), "program.v1")


def test_the_withdrawn_type_differs_by_topic() -> None:
    request = INPUT_EXAMPLES["registration.withdrawn"]
    assert parse_event(ev.encode(request), "registrations.requests.v1").spec.direction == "input"
    with pytest.raises(BadInput, match=r"data\.account_key: Field required"):
        parse_event(ev.encode(request), "registrations.v1")


def test_asyncapi_lists_every_topic_and_event() -> None:
    document = asyncapi_document()
    assert {c["address"] for c in document["channels"].values()} == set(TOPICS)
    names = {m["name"] for m in document["components"]["messages"].values()}
    assert names == {spec.type for spec in EVENTS}
    for message in document["components"]["messages"].values():
        assert Path(SCHEMA_DIR.parent / message["payload"]["$ref"]).exists()


# ------------------------------------------------------------------ contract 1.1 events

#: More valid output examples: a revenue share payout of an invoice, a manual adjustment.
MORE_OUTPUT_EXAMPLES: list[tuple[str, BaseModel]] = [
    ("payout.calculated", out.PayoutCalculated(
        payout_id="pay-3", deal_id="d-1", partner_id="p-1", registration_id="r-1", sequence=3,
        total=Money(amount=Decimal("200.00"), currency=EUR), lines=[SHARE_LINE],
        basis=MSP_BASIS, invoice_id="inv-1", payable_on=date(2026, 5, 1))),
    ("payout.adjusted", out.PayoutAdjusted(
        payout_id="pay-4", deal_id="d-1", partner_id="p-1", sequence=4,
        delta=Money(amount=Decimal("-40.00"), currency=EUR),
        new_total=Money(amount=Decimal("160.00"), currency=EUR), reason="manual",
        lines=[SHARE_LINE, MANUAL_LINE], basis=MSP_BASIS, supersedes=["pay-3"],
        adjustment_id="adj-1", payable_on=date(2026, 4, 9), clawback=False)),
]


@pytest.mark.parametrize(("name", "data"), MORE_OUTPUT_EXAMPLES, ids=lambda v: str(v)[:20])
def test_revenue_share_and_manual_payouts_match_their_json_schema(name: str,
                                                                  data: BaseModel) -> None:
    spec = next(s for s in EVENTS if s.name == name)
    event = make_event(name, id="0b8e7f1e-1111-4a6d-9a11-222233334445", source="/dealreg/test",
                       time=T, data=data)
    assert schema_errors(spec, json.loads(event.to_bytes())) == []


@pytest.mark.parametrize(("reason", "adjustment_id"), [("manual", None), ("refund", "adj-1")])
def test_an_adjustment_id_goes_with_a_manual_adjustment_only(reason: str,
                                                             adjustment_id: str | None) -> None:
    with pytest.raises(ValueError, match="adjustment_id is set for a manual adjustment"):
        out.PayoutAdjusted(
            payout_id="pay-2", deal_id="d-1", partner_id="p-1", sequence=2,
            delta=Money(amount=Decimal("-1.00"), currency=EUR),
            new_total=Money(amount=Decimal("0.00"), currency=EUR), reason=reason,
            lines=[], basis=BASIS, supersedes=["pay-1"], adjustment_id=adjustment_id,
            payable_on=date(2026, 4, 9), clawback=False)


def test_an_msp_partner_enrolls() -> None:
    document = ev.partner_enrolled("p-9", program="msp", tier="silver")
    assert parse_event(ev.encode(document), "partners.v1").name == "partner.enrolled"
    assert schema_errors(next(s for s in EVENTS if s.name == "partner.enrolled"), document) == []


def test_a_subscription_invoice_is_keyed_by_its_deal() -> None:
    parsed = parse_event(ev.encode(ev.subscription_invoiced("inv-1", "d-7")), "crm.v1")
    assert kafka_key(parsed) == "d-7"
    adjustment = parse_event(ev.encode(ev.adjustment_requested("adj-1", "d-8", "p-1")),
                             "salesops.v1")
    assert kafka_key(adjustment) == "d-8"
    assert output_spec("payout.adjustment_rejected").key_of(
        OUTPUT_EXAMPLES["payout.adjustment_rejected"]) == "p-1"


def test_a_one_day_invoice_period_and_zero_revenue_are_valid() -> None:
    invoice = ev.subscription_invoiced("inv-1", "d-1", period_start="2026-05-01",
                                       period_end="2026-05-01", amount="0.00")
    data = parse_event(ev.encode(invoice), "crm.v1").data
    assert isinstance(data, SubscriptionInvoiced)
    assert data.recurring_revenue.amount == Decimal("0.00")


def _invoice_with(change: Any) -> dict[str, Any]:
    document = ev.subscription_invoiced("inv-1", "d-1")
    change(document["data"])
    return document


def _adjustment_with(change: Any) -> dict[str, Any]:
    document = ev.adjustment_requested("adj-1", "d-1", "p-1")
    change(document["data"])
    return document


def _policy_with(**body: Any) -> dict[str, Any]:
    return ev.policy_published(**body)


@pytest.mark.parametrize(("topic", "document", "field"), [
    ("crm.v1", _invoice_with(lambda d: d.update(period_end="2026-04-30")),
     r"data\.period_end: must not be before period_start \(2026-05-01\)"),
    ("crm.v1", _invoice_with(lambda d: d["recurring_revenue"].update(amount="-0.01")),
     r"data\.recurring_revenue: recurring revenue cannot be negative"),
    ("crm.v1", _invoice_with(lambda d: d.update(period_start="2026-05-01T00:00:00Z")),
     r"data\.period_start"),
    ("crm.v1", _invoice_with(lambda d: d.pop("invoice_id")), r"data\.invoice_id: Field required"),
    ("crm.v1", _invoice_with(lambda d: d["recurring_revenue"].update(amount=12.5)),
     r"data\.recurring_revenue\.amount: must be a decimal string"),
    ("crm.v1", _invoice_with(lambda d: d.update(invoiced_at="2026-06-01")),
     r"data\.invoiced_at"),
    ("salesops.v1", _adjustment_with(lambda d: d["amount"].update(amount="0.00")),
     r"data\.amount: an adjustment's amount must not be zero"),
    ("salesops.v1", _adjustment_with(lambda d: d["amount"].update(amount="-0")),
     r"data\.amount: an adjustment's amount must not be zero"),
    ("salesops.v1", _adjustment_with(lambda d: d.update(reason="")),
     r"data\.reason: must not be empty"),
    ("salesops.v1", _adjustment_with(lambda d: d.update(reason=" \n ")),
     r"data\.reason: must not be empty"),
    ("salesops.v1", _adjustment_with(lambda d: d.pop("requested_by")),
     r"data\.requested_by: Field required"),
    ("salesops.v1", _adjustment_with(lambda d: d.update(requested_at=1767225600)),
     r"data\.requested_at"),
    ("partners.v1", ev.partner_enrolled("p-1", program="distributor"), r"data\.program"),
    ("program.v1", _policy_with(registration_capacity={"msp": {"gold": -1}}),
     r"data\.registration_capacity\.msp\.gold"),
    ("program.v1", _policy_with(registration_capacity={"msp": {"gold": "5"}}),
     r"data\.registration_capacity\.msp\.gold"),
    ("program.v1", _policy_with(registration_capacity={"vendor": {"gold": 5}}),
     r"data\.registration_capacity\.vendor"),
    ("program.v1", _policy_with(holding_days=-1), r"data\.holding_days"),
    ("program.v1", _policy_with(holding_days=3651), r"data\.holding_days"),
    ("program.v1", _policy_with(revenue_share_rates={"msp": {"gold": "1.5"}}),
     r"data\.revenue_share_rates\.msp\.gold: .*between 0 and 1"),
    ("program.v1", _policy_with(revenue_share_rates={"msp": {"gold": 0.2}}),
     r"data\.revenue_share_rates\.msp\.gold: must be a decimal string"),
    ("program.v1", _policy_with(revenue_share_months=-1), r"data\.revenue_share_months"),
    ("program.v1", _policy_with(revenue_share_months=1201), r"data\.revenue_share_months"),
])
def test_contract_11_bad_input_names_the_field(topic: str, document: dict[str, Any],
                                               field: str) -> None:
    with pytest.raises(BadInput, match=field):
        parse_event(ev.encode(document), topic)


def test_a_null_capacity_means_no_limit_and_parses() -> None:
    policy = ev.policy_published(registration_capacity={"referral": {"gold": None, "silver": 0}},
                                 holding_days=0, revenue_share_months=0)
    data = parse_event(ev.encode(policy), "program.v1").data
    assert isinstance(data, PolicyPublished)
    assert data.registration_capacity == {"referral": {"gold": None, "silver": 0}}
    assert (data.holding_days, data.revenue_share_months) == (0, 0)


@pytest.mark.parametrize("spec", [s for s in EVENTS if s.direction == "input"],
                         ids=lambda s: s.name)
def test_a_valid_input_is_read_in_one_pass_as_the_careful_reading_reads_it(
        spec: EventSpec) -> None:
    text = ev.encode(INPUT_EXAMPLES[spec.name]).decode()
    single = _valid_event(text, spec.topic)
    assert single is not None
    assert single == _read_carefully(text, spec.topic)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_json_constant_anywhere_is_left_to_the_careful_reading(constant: str) -> None:
    # an ignored field: the models alone would accept it, JSON does not
    text = ev.encode(ev.registration_submitted("r-1", "p-1")).decode().replace(
        '"data":', f'"crm_score": {constant}, "data":', 1)
    assert _valid_event(text, "registrations.requests.v1") is None
    with pytest.raises(BadInput, match=f"malformed JSON: {constant} is not a JSON value"):
        parse_event(text.encode(), "registrations.requests.v1")


def test_an_event_of_another_topic_is_left_to_the_careful_reading() -> None:
    text = ev.encode(ev.deal_closed("d-1", registration_id="r-1")).decode()
    assert _valid_event(text, "registrations.requests.v1") is None
    assert _valid_event(text, "not.a.contract.topic") is None
