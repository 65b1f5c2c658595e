"""The commands that send one event (``dealreg disputes resolve|raise``, ``payouts adjust``,
``partners enroll|tier``): their arguments, the CloudEvent each builds and its ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dealreg import actions
from dealreg.actions import partner_admin as pa
from dealreg.actions import salesops as so
from dealreg.cli import _parser
from dealreg.cli import actions as act
from dealreg.events.schemas import parse_event
from dealreg.events.schemas.inputs import (
    DisputeRaised,
    DisputeResolved,
    PartnerEnrolled,
    PartnerTierChanged,
    PayoutAdjustmentRequested,
)

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The message of a command line the parser refuses (exit status 2)."""
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


RESOLVE = ("disputes", "resolve", "x-1", "--by", "ops-lead-1", "--rationale", "first meeting")
ADJUST = ("payouts", "adjust", "d-1", "p-north")
ADJUST_FLAGS = ("--reason", "goodwill", "--by", "finance-2")


# ------------------------------------------------------------------ arguments


def test_a_resolution_names_exactly_one_winner(capsys: pytest.CaptureFixture[str]) -> None:
    assert "one of the arguments --winner --direct is required" in usage_error(
        capsys, *RESOLVE)
    assert "not allowed with argument" in usage_error(
        capsys, *RESOLVE, "--winner", "r-1", "--direct")
    args = _parser().parse_args([*RESOLVE, "--direct"])
    assert (args.direct, args.winner, args.outgoing) == (True, None, act.resolve)


@pytest.mark.parametrize("flag", ["--by", "--rationale"])
def test_a_resolution_says_who_decided_and_why(capsys: pytest.CaptureFixture[str],
                                               flag: str) -> None:
    given = {"--by": "ops-lead-1", "--rationale": "first meeting"}
    others = [item for name, value in given.items() if name != flag for item in (name, value)]
    assert f"the following arguments are required: {flag}" in usage_error(
        capsys, "disputes", "resolve", "x-1", "--direct", *others)
    assert f"argument {flag}: must not be empty" in usage_error(
        capsys, "disputes", "resolve", "x-1", "--direct", *others, flag, "  ")


def test_ids_are_not_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert "argument DISPUTE_ID: must not be empty" in usage_error(
        capsys, "disputes", "resolve", "", "--direct", "--by", "a", "--rationale", "b")
    assert "argument --winner: must not be empty" in usage_error(
        capsys, *RESOLVE, "--winner", "")
    assert "argument REGISTRATION_ID: must not be empty" in usage_error(
        capsys, "disputes", "raise", "", "--evidence", "notes")
    assert "argument DEAL_ID: must not be empty" in usage_error(
        capsys, "payouts", "adjust", "", "p-1", "10", "EUR", *ADJUST_FLAGS)
    assert "argument PARTNER_ID: must not be empty" in usage_error(
        capsys, "partners", "tier", " ", "gold", "--effective", "2026-03-01T00:00:00Z")


@pytest.mark.parametrize(("at", "message"), [
    ("yesterday", "not an RFC 3339 timestamp: 'yesterday'"),
    ("2026-03-10T09:00:00", "the timestamp needs an offset or Z"),
])
def test_an_instant_needs_a_date_a_time_and_an_offset(
        capsys: pytest.CaptureFixture[str], at: str, message: str) -> None:
    assert message in usage_error(capsys, *RESOLVE, "--direct", "--at", at)
    assert message in usage_error(capsys, "partners", "tier", "p-1", "gold", "--effective", at)


@pytest.mark.parametrize(("text", "message"), [
    ("0", "must not be zero"),
    ("-0.00", "must not be zero"),
    ("1e3", "not an amount: '1e3'"),
    ("1,50", "not an amount: '1,50'"),
    ("NaN", "not an amount: 'NaN'"),
    ("12.1234567", "not an amount: '12.1234567'"),
    ("0.001", "not an amount: '0.001' (a decimal number in cents"),
    ("ten", "not an amount: 'ten'"),
])
def test_an_adjustment_amount_is_a_decimal_number_that_is_not_zero(
        capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    assert message in usage_error(capsys, *ADJUST, text, "EUR", *ADJUST_FLAGS)


@pytest.mark.parametrize(("text", "amount"), [("150.00", "150.00"), ("-75.5", "-75.50"),
                                              ("75", "75.00"), ("12.500", "12.50")])
def test_an_adjustment_amount_is_read_as_a_decimal_never_a_float(text: str,
                                                                 amount: str) -> None:
    args = _parser().parse_args([*ADJUST, text, "eur", *ADJUST_FLAGS])
    assert type(args.amount) is Decimal
    assert str(args.amount) == amount
    assert args.currency == "EUR"


def test_an_adjustment_currency_is_an_iso_4217_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert "not an ISO 4217 currency code: 'EUX'" in usage_error(
        capsys, *ADJUST, "10", "EUX", *ADJUST_FLAGS)


def test_partners_are_enrolled_in_a_program_at_a_tier(capsys: pytest.CaptureFixture[str]) -> None:
    enroll = ("partners", "enroll", "p-1", "--name", "Northwind")
    assert "argument --program: invalid choice: 'gold'" in usage_error(
        capsys, *enroll, "--program", "gold", "--tier", "gold")
    assert "argument --tier: invalid choice: 'diamond'" in usage_error(
        capsys, *enroll, "--program", "referral", "--tier", "diamond")
    assert "argument tier: invalid choice: 'diamond'" in usage_error(
        capsys, "partners", "tier", "p-1", "diamond", "--effective", "2026-03-01T00:00:00Z")
    assert "the following arguments are required: --effective" in usage_error(
        capsys, "partners", "tier", "p-1", "gold")


# ------------------------------------------------------------------ the events


def resolution(**changes: object) -> actions.Outgoing:
    fields: dict[str, object] = {"dispute_id": "x-1", "winner_registration_id": "r-2",
                                 "by": "ops-lead-1", "rationale": "first meeting", "at": AT}
    fields.update(changes)
    return so.dispute_resolution(**fields)  # type: ignore[arg-type]


def test_a_resolution_is_a_valid_dispute_resolved_keyed_by_its_dispute() -> None:
    message = actions.message(resolution())
    assert message.event.spec.topic == "salesops.v1"
    assert message.key == b"x-1"
    envelope = json.loads(message.value)
    assert (envelope["type"], envelope["source"], envelope["subject"], envelope["time"]) == (
        "dealreg.dispute.resolved.v1", "/salesops", "x-1", "2026-03-10T09:00:00Z")
    data = parse_event(message.value, "salesops.v1").data
    assert isinstance(data, DisputeResolved)
    assert data.winner.model_dump() == {"registration_id": "r-2"}
    assert (data.resolved_by, data.rationale, data.resolved_at) == (
        "ops-lead-1", "first meeting", AT)
    direct = json.loads(actions.message(resolution(winner_registration_id=None)).value)
    assert direct["data"]["winner"] == {"direct": True}


def test_the_same_command_sends_the_same_event_and_any_other_another() -> None:
    first = actions.message(resolution())
    assert actions.message(resolution()).value == first.value
    others = [resolution(rationale="other"), resolution(by="ops-lead-2"),
              resolution(winner_registration_id=None), resolution(dispute_id="x-2"),
              resolution(at=datetime(2026, 3, 10, 9, 0, 1, tzinfo=UTC))]
    ids = {json.loads(actions.message(other).value)["id"] for other in others}
    assert len(ids) == len(others)
    assert json.loads(first.value)["id"] not in ids


def test_a_raised_dispute_gets_one_id_per_registration() -> None:
    raised = so.dispute_raised("r-2", evidence="we met them first", at=AT)
    message = actions.message(raised)
    data = parse_event(message.value, "salesops.v1").data
    assert isinstance(data, DisputeRaised)
    assert message.key == data.dispute_id.encode() == so.raised_dispute_id("r-2").encode()
    again = so.dispute_raised("r-2", evidence="other words", at=datetime.now(UTC))
    assert again.data["dispute_id"] == data.dispute_id
    assert so.raised_dispute_id("r-3") != data.dispute_id
    longest = actions.message(so.dispute_raised("r" * 200, evidence="", at=AT))  # fits the id
    assert json.loads(longest.value)["data"]["registration_id"] == "r" * 200


def adjustment(**changes: object) -> actions.Outgoing:
    fields: dict[str, object] = {"deal_id": "d-1", "partner_id": "p-north",
                                 "amount": Decimal("150.00"), "currency": "EUR",
                                 "reason": "goodwill", "by": "finance-2", "at": AT}
    fields.update(changes)
    return so.adjustment(**fields)  # type: ignore[arg-type]


def test_an_adjustment_is_a_valid_request_keyed_by_its_deal() -> None:
    message = actions.message(adjustment(amount=Decimal("-75.50")))
    assert (message.event.spec.topic, message.key) == ("salesops.v1", b"d-1")
    data = parse_event(message.value, "salesops.v1").data
    assert isinstance(data, PayoutAdjustmentRequested)
    assert (data.amount.amount, data.amount.currency) == (Decimal("-75.50"), "EUR")
    assert json.loads(message.value)["data"]["amount"] == {"amount": "-75.50",
                                                           "currency": "EUR"}
    assert (data.reason, data.requested_by, data.requested_at) == ("goodwill", "finance-2", AT)


def test_an_adjustment_id_is_a_uuid5_of_the_correction() -> None:
    first = adjustment().data["adjustment_id"]
    assert adjustment().data["adjustment_id"] == first
    assert adjustment(amount=Decimal("150")).data["adjustment_id"] == first  # same amount
    assert first == so.adjustment_id("d-1", "p-north", Decimal("150.0"), "EUR",
                                      reason="goodwill", by="finance-2", at=AT)
    others = [adjustment(deal_id="d-2"), adjustment(partner_id="p-south"),
              adjustment(amount=Decimal("150.01")), adjustment(currency="USD"),
              adjustment(reason="other"), adjustment(by="finance-3"),
              adjustment(at=datetime(2026, 3, 11, tzinfo=UTC))]
    assert len({other.data["adjustment_id"] for other in others} | {first}) == 8


def test_partner_events_are_keyed_by_partner_and_dated_by_their_business_time() -> None:
    enrolled = actions.message(pa.enrollment("p-1", name="Northwind", program="msp",
                                          tier="silver", at=AT))
    assert (enrolled.event.spec.topic, enrolled.key) == ("partners.v1", b"p-1")
    data = parse_event(enrolled.value, "partners.v1").data
    assert isinstance(data, PartnerEnrolled)
    assert (data.name, data.program, data.tier, data.enrolled_at) == (
        "Northwind", "msp", "silver", AT)
    changed = actions.message(pa.tier_change("p-1", "gold", effective=AT))
    assert json.loads(changed.value)["time"] == "2026-03-10T09:00:00Z"
    tier = parse_event(changed.value, "partners.v1").data
    assert isinstance(tier, PartnerTierChanged)
    assert (tier.tier, tier.effective_at) == ("gold", AT)


def test_what_the_contract_refuses_is_refused_naming_the_argument() -> None:
    with pytest.raises(act.CommandError, match=r"^--by: String should have at most 200"):
        act.message(resolution(by="x" * 201))
    with pytest.raises(act.CommandError, match=r"^AMOUNT: must be a decimal string"):
        act.message(adjustment(amount=Decimal("1E+20")))
    with pytest.raises(act.CommandError, match=r"^PARTNER_ID: String should have at most 200"):
        act.message(pa.tier_change("p" * 201, "gold", effective=AT))


def test_the_default_instant_is_now_to_the_second() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    instant = actions.now()
    assert instant.tzinfo is UTC
    assert instant.microsecond == 0
    assert before <= instant <= datetime.now(UTC)
