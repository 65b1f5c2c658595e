"""The commands that read a service's store before they answer, run as a person runs them
(``dealreg …`` in this process) on stores the services wrote: ``disputes resolve`` refusing
what cannot apply, ``policy show`` and ``policy simulate``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dealreg.actions.salesops import raised_dispute_id
from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION, prepare_stores
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.bus import InMemoryBus
from tests.support.cli import Ran, dealreg


@dataclass
class Program:
    """The services wired in memory on real stores (SQLite files or PostgreSQL schemas),
    and ``dealreg`` run on the same stores, configured by ``DEALREG_*`` variables."""

    bus: InMemoryBus
    settings: Settings
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def dealreg(self, *argv: str) -> Ran:
        # kafka is never reached: each of these refuses or only reads
        return dealreg(self.capsys, self.monkeypatch, self.settings, *argv)


@pytest.fixture
def program(settings: Settings, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Program]:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    for partner_id in ("p-a", "p-b"):
        bus.send("partners.v1", ev.partner_enrolled(partner_id))
    yield Program(bus, settings, capsys, monkeypatch)
    bus.close()


def refused(ran: Ran) -> str:
    """The one line of a refused command, which sent nothing."""
    assert ran.status == 1
    assert ran.stdout == ""
    [line] = ran.stderr.splitlines()
    return line


RESOLVE = ("--by", "ops-lead-1", "--rationale", "the partner met the buyer first")


def r_2_loses_acme_to_r_1(bus: InMemoryBus) -> None:
    """p-a's r-1 holds acme.example; p-b's r-2, submitted a day later, is denied."""
    for registration_id, partner_id, submitted_at in (("r-1", "p-a", "2026-03-01"),
                                                      ("r-2", "p-b", "2026-03-02")):
        bus.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, submitted_at=f"{submitted_at}T00:00:00Z"))


def test_a_resolution_is_refused_unless_the_store_has_the_open_dispute_and_the_winner(
        program: Program) -> None:
    bus = program.bus
    r_2_loses_acme_to_r_1(bus)
    bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-03-03T00:00:00Z"))

    unknown = refused(program.dealreg("disputes", "resolve", "x-9", "--direct", *RESOLVE))
    assert unknown == ("dealreg: no dispute 'x-9' in the conflict service's store "
                       f"({program.settings.store_description()})")
    stranger = refused(program.dealreg("disputes", "resolve", "x-1", "--winner", "r-3",
                                       *RESOLVE))
    assert stranger == ("dealreg: registration 'r-3' is not part of dispute 'x-1'; its "
                        "registrations are r-2, r-1")

    bus.send("salesops.v1", ev.dispute_resolved("x-1", {"registration_id": "r-2"}))
    settled = refused(program.dealreg("disputes", "resolve", "x-1", "--winner", "r-2",
                                      *RESOLVE))
    assert settled == ("dealreg: dispute 'x-1' is already settled (dealreg disputes show x-1 "
                       "says how)")


def test_a_dispute_is_raised_only_for_a_registration_denied_for_a_conflict(
        program: Program) -> None:
    bus = program.bus
    r_2_loses_acme_to_r_1(bus)
    evidence = ("--evidence", "we met the buyer first", "--at", "2026-03-03T00:00:00Z")

    unknown = refused(program.dealreg("disputes", "raise", "r-9", *evidence))
    assert unknown.startswith("dealreg: no registration 'r-9' denied for a conflict in the "
                              "conflict service's store")
    holder = refused(program.dealreg("disputes", "raise", "r-1", *evidence))
    assert holder == ("dealreg: registration 'r-1' is approved, not denied for a conflict: "
                      "only a registration that lost the account to another partner's can be "
                      "disputed")
    dispute_id = raised_dispute_id("r-2")
    bus.send("salesops.v1", ev.dispute_raised(dispute_id, "r-2"))
    again = refused(program.dealreg("disputes", "raise", "r-2", *evidence))
    assert again == ("dealreg: the denial of registration 'r-2' is already disputed "
                     f"(dealreg disputes show {dispute_id})")


AUTUMN = ev.policy_published("autumn", version=1, effective_from="2026-09-01T00:00:00Z",
                             time="2026-06-01T00:00:00Z",
                             commission_rates={"referral": {"gold": "0.40"}}, holding_days=30)


def test_policy_show_gives_every_field_of_the_policy_in_force_at_an_instant(
        program: Program) -> None:
    program.bus.send("program.v1", AUTUMN)
    before = program.dealreg("policy", "show", "--at", "2026-08-31T23:59:59Z", "--json")
    assert before.status == 0
    assert json.loads(before.stdout)["policy_id"] == "default"

    after = program.dealreg("policy", "show", "--at", "2026-09-01T00:00:00Z", "--json")
    policy = json.loads(after.stdout)
    assert (policy["policy_id"], policy["version"], policy["effective_from"]) == (
        "autumn", 1, "2026-09-01T00:00:00Z")
    assert policy["commission_rates"]["referral"] == {  # completed by the default
        "bronze": "0.15", "silver": "0.20", "gold": "0.40", "platinum": "0.30"}
    assert (policy["holding_days"], policy["max_total_days"]) == (30, 90)
    assert policy["registration_capacity"]["msp"]["gold"] is None
    assert set(policy) == {
        "policy_id", "version", "effective_from", "retroactive", "registration_window_days",
        "commission_rates", "max_total_days", "max_extension_days", "co_sell_split",
        "registration_capacity", "holding_days", "revenue_share_rates",
        "revenue_share_months", "tier_bonuses"}

    text = program.dealreg("policy", "show", "--at", "2026-09-01T00:00:00Z").stdout
    assert text.startswith("policy autumn version 1, in force at 2026-09-01T00:00:00Z "
                           "(effective from 2026-09-01T00:00:00Z)")
    assert "  referral                        0.15      0.20      0.40      0.30" in text
    assert "holding period before billing pays: 30 days" in text


def two_deals_of_p_a(program: Program) -> None:
    bus = program.bus
    for registration_id, domain in (("r-1", "acme.example"), ("r-2", "beta.example")):
        bus.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, "p-a", domain=domain))
    for deal_id, registration_id, domain, amount in (("d-1", "r-1", "acme.example", "1000.00"),
                                                     ("d-2", "r-2", "beta.example", "300.00")):
        bus.send("crm.v1", ev.deal_closed(deal_id, registration_id=registration_id,
                                          domain=domain, amount=amount))


def write(path: Path, *events: dict[str, Any]) -> str:
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return str(path)


def test_policy_simulate_lists_each_change_and_the_sum_per_partner(
        program: Program, tmp_path: Path) -> None:
    two_deals_of_p_a(program)
    boost = write(tmp_path / "boost.jsonl", ev.policy_published(
        "boost", effective_from="2026-04-01T00:00:00Z", retroactive=True,
        time="2026-06-01T00:00:00Z", commission_rates={"referral": {"gold": "0.30"}}))

    text = program.dealreg("policy", "simulate", boost)
    assert text.status == 0
    lines = text.stdout.splitlines()
    assert lines[1].split() == ["d-1", "p-a", "250.00", "EUR", "300.00", "EUR", "+50.00",
                                "EUR"]
    assert lines[2].split() == ["d-2", "p-a", "75.00", "EUR", "90.00", "EUR", "+15.00", "EUR"]
    assert lines[3:5] == ["per partner:", "  p-a                      +65.00 EUR"]
    assert lines[5] == ("publishing policy boost version 1 now would change 2 payout "
                        "total(s); nothing was published")

    as_json = program.dealreg("policy", "simulate", boost, "--json")
    assert json.loads(as_json.stdout) == [
        {"deal_id": "d-1", "partner_id": "p-a",
         "current_total": {"amount": "250.00", "currency": "EUR"},
         "simulated_total": {"amount": "300.00", "currency": "EUR"},
         "delta": {"amount": "50.00", "currency": "EUR"}},
        {"deal_id": "d-2", "partner_id": "p-a",
         "current_total": {"amount": "75.00", "currency": "EUR"},
         "simulated_total": {"amount": "90.00", "currency": "EUR"},
         "delta": {"amount": "15.00", "currency": "EUR"}}]
    assert "would change 2 payout total(s)" in as_json.stderr


def test_policy_simulate_says_when_nothing_would_change(program: Program,
                                                         tmp_path: Path) -> None:
    two_deals_of_p_a(program)
    later = program.dealreg("policy", "simulate", write(tmp_path / "autumn.jsonl", AUTUMN),
                            "--json")
    assert json.loads(later.stdout) == []
    assert "it is not retroactive, so it applies only to deals closed after its " \
           "publication" in later.stderr
    program.bus.send("program.v1", AUTUMN)
    again = program.dealreg("policy", "simulate", write(tmp_path / "autumn.jsonl", AUTUMN))
    assert again.stdout == ("policy autumn version 1 is already published: publishing it "
                            "again changes nothing\n")
    assert again.stderr == ""  # not the service's log of the policy it would ignore


def test_policy_simulate_takes_one_valid_policy_published(program: Program,
                                                          tmp_path: Path) -> None:
    backdated = ev.policy_published("late", effective_from="2026-01-01T00:00:00Z",
                                    time="2026-06-01T00:00:00Z")
    invalid = refused(program.dealreg("policy", "simulate",
                                      write(tmp_path / "late.jsonl", backdated)))
    assert invalid.startswith(f"dealreg: {tmp_path / 'late.jsonl'} line 1: data.effective_from: "
                              "a policy with retroactive false must not take effect before")
    assert invalid.endswith("; nothing was simulated")
    two = refused(program.dealreg("policy", "simulate",
                                  write(tmp_path / "two.jsonl", AUTUMN, AUTUMN)))
    assert two.endswith("holds 2 events; policy simulate takes exactly one policy.published "
                        "CloudEvent")
    wrong_topic = refused(program.dealreg("policy", "simulate", write(
        tmp_path / "deal.jsonl", ev.deal_closed("d-1"))))
    assert "type: 'dealreg.deal.closed.v1' does not belong on topic 'program.v1'" in wrong_topic
    missing = refused(program.dealreg("policy", "simulate", str(tmp_path / "none.jsonl")))
    assert missing.startswith(f"dealreg: cannot read {tmp_path / 'none.jsonl'}:")


def test_a_store_or_broker_out_of_reach_is_said_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/x",
                       kafka_bootstrap="127.0.0.1:1")
    readers: list[tuple[str, ...]] = [
        ("policy", "show"), ("disputes", "resolve", "x-1", "--direct", *RESOLVE),
        ("disputes", "list"), ("payouts", "show", "d-1"), ("audit", "verify"),
        ("partners", "top")]
    for argv in readers:
        line = refused(dealreg(capsys, monkeypatch, nowhere, *argv))
        assert line.startswith("dealreg: could not read the event store "
                               "(postgresql://127.0.0.1:1/x schemas dealreg_*): "), argv
    events = tmp_path / "partners.jsonl"
    events.write_text(json.dumps(ev.partner_enrolled("p-1")) + "\n", encoding="utf-8")
    senders: list[tuple[str, ...]] = [
        ("partners", "tier", "p-1", "gold", "--effective", "2026-03-01T00:00:00Z"),
        ("publish", "partners.v1", str(events)), ("topics", "create"),
        ("tail", "payouts.v1", "--idle-exit", "1")]
    for argv in senders:
        line = refused(dealreg(capsys, monkeypatch, nowhere, *argv))
        assert line.startswith("dealreg: could not reach Kafka at 127.0.0.1:1: "), argv



def test_output_piped_into_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    """``dealreg … | head``: the reader has closed the pipe; no traceback, exit 0."""
    prepare_stores(Settings(data_dir=tmp_path))
    script = ("import sys; from dealreg.cli import main; "
              "sys.exit(main(['payouts', 'statement', 'p-1', '--from', '2026-01-01', "
              f"'--to', '2026-12-31', '--data-dir', {str(tmp_path)!r}]))")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before dealreg writes
    try:
        run = subprocess.run([sys.executable, "-c", script], stdout=write_end,
                             stderr=subprocess.PIPE, check=False, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in run.stderr
    assert run.returncode == 0, run.stderr
