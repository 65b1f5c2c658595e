"""The read-only commands as a person runs them (``dealreg …`` in this process) on stores the
services wrote, and on stores that are not there: what they print, and that they create
nothing where they are pointed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from dealreg.settings import Settings
from tests.conftest import test_database_url as database_url
from tests.integration.test_cli_commands import Program
from tests.support import events as ev
from tests.support.bus import InMemoryBus
from tests.support.cli import Ran, dealreg

#: Every command that only reads, with the store it names first when none is there.
READ_ONLY = [
    (("disputes", "list"), "conflict"), (("disputes", "show", "x-1"), "conflict"),
    (("disputes", "replay", "x-1"), "conflict"), (("accounts", "show", "acme.example"),
                                                  "conflict"),
    (("partners", "show", "p-1"), "projections"), (("partners", "top"), "projections"),
    (("payouts", "show", "d-1"), "payouts"), (("payouts", "recompute"), "payouts"),
    (("payouts", "statement", "p-1", "--from", "2026-01-01", "--to", "2026-12-31"),
     "payouts"),
    (("audit", "history", "r-1"), "registration"), (("audit", "verify"), "registration"),
    (("audit", "export"), "registration"), (("policy", "show"), "payouts"),
    (("projections", "status"), "registration"), (("dlq", "list"), "registration"),
    (("dlq", "show", "12345678"), "registration"),
    (("tokens", "list"), "api"),
]


def one_line(ran: Ran) -> str:
    assert ran.status != 0
    [line] = ran.stderr.splitlines()
    return line


UP = "run `dealreg up` first"
WHAT = {"api": "token store"}
FIRST = {"api": "`dealreg tokens create` makes the first token"}


@pytest.mark.parametrize(("argv", "store"), READ_ONLY, ids=[" ".join(a) for a, _ in READ_ONLY])
def test_a_read_only_command_on_an_empty_directory_creates_nothing(
        argv: tuple[str, ...], store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = Settings(data_dir=empty / "data")
    monkeypatch.chdir(empty)
    line = one_line(dealreg(capsys, monkeypatch, settings, *argv))
    assert line == (f"dealreg: no {WHAT.get(store, store + ' store')} at {empty}/data/"
                    f"{store}.sqlite; is DEALREG_DATA_DIR right? {FIRST.get(store, UP)}")
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize(("argv", "store"), READ_ONLY, ids=[" ".join(a) for a, _ in READ_ONLY])
def test_a_read_only_command_on_an_empty_schema_prefix_creates_nothing(
        argv: tuple[str, ...], store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"t{os.urandom(5).hex()}_"
    url = database_url()
    settings = Settings(data_dir=tmp_path / "data", database_url=url, db_schema_prefix=prefix)
    line = one_line(dealreg(capsys, monkeypatch, settings, *argv))
    assert line == (f"dealreg: no {WHAT.get(store, store + ' store')} at "
                    f"{settings.database_description()} schema {prefix}{store}; is "
                    f"DEALREG_DATABASE_URL right? {FIRST.get(store, UP)}")
    with psycopg.connect(url) as conn:
        created = conn.execute("SELECT schema_name FROM information_schema.schemata "
                               "WHERE schema_name LIKE %s", (f"{prefix}%",)).fetchall()
    assert created == []
    assert not (tmp_path / "data").exists()


def test_a_missing_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = database_url().rsplit("/", 1)[0] + f"/nodb{os.urandom(4).hex()}"
    settings = Settings(data_dir=tmp_path, database_url=missing)
    line = one_line(dealreg(capsys, monkeypatch, settings, "disputes", "list"))
    assert line.startswith("dealreg: could not read the event store (postgresql://")
    assert "does not exist" in line


def test_a_missing_file_to_publish_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ran = dealreg(capsys, monkeypatch, Settings(kafka_bootstrap="127.0.0.1:1"), "publish",
                  "partners.v1", "partners.jsonl")
    assert one_line(ran) == (f"dealreg: cannot read partners.jsonl: no such file (looked in "
                             f"{tmp_path})")


def test_ctrl_c_during_a_client_command_is_one_line(
        kafka_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``dealreg tail`` waits for events until Ctrl-C (as long as a store retry waits)."""
    events = tmp_path / "partners.jsonl"
    events.write_text(json.dumps(ev.partner_enrolled("p-1")) + "\n", encoding="utf-8")
    published = dealreg(capsys, monkeypatch, kafka_settings, "publish", "partners.v1",
                        str(events))
    assert published.status == 0, published.stderr
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    tail = subprocess.Popen(
        [sys.executable, "-m", "dealreg.cli", "tail", "partners.v1", "--from-beginning"],
        env=env | kafka_settings.environ(), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert tail.stdout is not None
    assert json.loads(tail.stdout.readline())["subject"] == "p-1"  # it is waiting for more
    tail.send_signal(signal.SIGINT)
    _, stderr = tail.communicate(timeout=60)
    assert tail.returncode == 130
    assert stderr.splitlines() == ["dealreg: interrupted (Ctrl-C); tail did not finish"]


def test_ctrl_c_while_a_store_does_not_answer_is_one_line(tmp_path: Path) -> None:
    """A database that accepts the connection and never answers: Ctrl-C then is one line
    (once the store's connection attempt gives up), never a traceback."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("DEALREG_")}
        env["DEALREG_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{port}/test"
        command = subprocess.Popen([sys.executable, "-m", "dealreg.cli", "disputes", "list"],
                                   env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        connection, _ = silent.accept()  # it is waiting for the database's answer
        with connection:
            command.send_signal(signal.SIGINT)
            _, stderr = command.communicate(timeout=60)
    assert command.returncode == 130
    assert stderr.splitlines() == ["dealreg: interrupted (Ctrl-C); disputes did not finish"]


def r_1_protected_r_2_later_expired(bus: InMemoryBus) -> None:
    """p-a's r-1 on acme.example (a 45-day gold referral window from 2026-03-01); p-b's r-2
    on ACME, Inc. of the US without a domain."""
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-a", submitted_at="2026-03-01T00:00:00Z"))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-2", "p-b", domain=None, submitted_at="2026-03-02T00:00:00Z"))


def test_accounts_show_gives_each_registration_its_state_then(program: Program) -> None:
    r_1_protected_r_2_later_expired(program.bus)
    during = program.dealreg("accounts", "show", "acme.example", "--as-of", "2026-03-10")
    assert during.status == 0, during.stderr
    assert during.stdout.splitlines()[0] == ("account domain:acme.example as of "
                                             "2026-03-10T00:00:00Z")
    assert "held by r-1 (p-a)" in during.stdout
    assert during.stdout.splitlines()[2].split() == ["r-1", "p-a", "protected"]
    after = program.dealreg("accounts", "show", "acme.example", "--as-of", "2026-11-29")
    assert "nobody holds it" in after.stdout
    assert after.stdout.splitlines()[2].split() == ["r-1", "p-a", "expired"]
    assert "protected" not in after.stdout


def test_accounts_show_of_a_company_name_needs_its_country(program: Program) -> None:
    r_1_protected_r_2_later_expired(program.bus)
    line = one_line(program.dealreg("accounts", "show", "ACME, Inc."))
    assert line == ("dealreg: 'ACME, Inc.' is not a domain; an account without a domain is "
                    "its company name and country: dealreg accounts show 'ACME, Inc.' "
                    "--country CC")
    typo = one_line(program.dealreg("accounts", "show", "acme..example"))
    assert typo.startswith("dealreg: 'acme..example' is not a domain ('acme..example' is not "
                           "a valid domain name")
    named = program.dealreg("accounts", "show", "ACME, Inc.", "--country", "us", "--as-of",
                           "2026-03-03T00:00:00Z")
    assert named.status == 0, named.stderr
    assert named.stdout.splitlines()[0] == "account name:US:acme as of 2026-03-03T00:00:00Z"
    assert "held by r-2 (p-b)" in named.stdout


def test_an_instant_that_is_neither_a_date_nor_a_timestamp_is_refused(
        program: Program) -> None:
    with pytest.raises(SystemExit) as refused:
        program.dealreg("accounts", "show", "acme.example", "--as-of", "yesterday")
    assert refused.value.code == 2
    assert "not an RFC 3339 timestamp: 'yesterday' (or a date: YYYY-MM-DD)" in \
        program.capsys.readouterr().err


def a_settled_dispute(bus: InMemoryBus) -> None:
    """p-b's r-2 loses acme.example to p-a's r-1, disputes it and wins."""
    for registration_id, partner_id, day in (("r-1", "p-a", "01"), ("r-2", "p-b", "02")):
        bus.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, submitted_at=f"2026-03-{day}T00:00:00Z"))
    bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-03-03T00:00:00Z"))
    bus.send("salesops.v1", ev.dispute_resolved("x-1", {"registration_id": "r-2"},
                                                resolved_at="2026-03-04T00:00:00Z"))


def test_disputes_list_show_and_replay_read_as_text(program: Program) -> None:
    a_settled_dispute(program.bus)
    listed = program.dealreg("disputes", "list")
    assert listed.status == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["DISPUTE", "STATUS", "KIND", "OPENED", "(UTC)", "ACCOUNT",
                              "REGISTRATIONS"]
    assert row.split()[:2] == ["x-1", "settled"]

    shown = program.dealreg("disputes", "show", "x-1")
    assert shown.status == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("dispute x-1: settled, ")
    assert "on account domain:acme.example, opened 2026-03-03T00:00:00Z" in lines[0]
    parties = [line.split(",")[0].split() for line in lines if line.startswith("  party")]
    assert parties == [["party", "r-1", "of", "p-a"], ["party", "r-2", "of", "p-b"]]
    assert any(line.startswith("  case        r-2 (p-b), raised 2026-03-03T00:00:00Z: We met")
               for line in lines)
    assert any(line.startswith("  resolved    2026-03-04T00:00:00Z by ops-lead-1 for r-2: ")
               for line in lines)
    assert "  timeline" in lines
    assert "newcomer" not in shown.stdout
    as_json = json.loads(program.dealreg("disputes", "show", "x-1", "--json").stdout)
    assert [p["registration_id"] for p in as_json["parties"]] == ["r-1", "r-2"]

    replayed = program.dealreg("disputes", "replay", "x-1")
    assert replayed.status == 0, replayed.stderr
    assert "datetime" not in replayed.stdout
    assert replayed.stdout.splitlines()[0] == ("dispute x-1 on account domain:acme.example: "
                                               "every decision reproduced")
    assert any(line.strip().startswith("ok   r-2 (rule 3): recorded denied (conflict, "
                                       "against r-1); replayed denied")
               for line in replayed.stdout.splitlines())


def test_payouts_show_is_text_and_recompute_needs_no_flag(program: Program) -> None:
    bus = program.bus
    bus.send("registrations.requests.v1", ev.registration_submitted("r-1", "p-a"))
    bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1", amount="1000.00"))
    shown = program.dealreg("payouts", "show", "d-1")
    assert shown.status == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("deal d-1: won 2026-04-10T00:00:00Z, first-year value 1000.00 "
                               "EUR")
    assert lines[1].split()[:4] == ["payout.calculated", "#1", "p-a:", "250.00"]
    assert "  owed to p-a: 250.00 EUR" in lines
    assert json.loads(program.dealreg("payouts", "show", "d-1", "--json").stdout)[
        "deal"]["deal_id"] == "d-1"
    for argv in (("payouts", "recompute"), ("payouts", "recompute", "--dry-run")):
        recomputed = program.dealreg(*argv)
        assert recomputed.status == 0, recomputed.stderr
        assert recomputed.stdout == "every (deal, partner) sum equals the correct amount\n"


def test_expire_due_at_a_future_instant_needs_force(program: Program) -> None:
    program.bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-a", submitted_at=time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())))
    line = one_line(program.dealreg("expire-due", "--now", "2099-01-01T00:00:00Z"))
    assert line == ("dealreg: --now 2099-01-01T00:00:00Z is in the future: registrations "
                    "still protected today whose window ends before it would expire early; "
                    "add --force to expire them anyway")
    stored = program.dealreg("audit", "history", "r-1", "--json")
    assert "expired" not in {json.loads(line)["type"].rsplit(".", 1)[-1]
                             for line in stored.stdout.splitlines()}


def test_partners_top_says_where_the_revenue_is_when_the_currency_has_none(
        program: Program) -> None:
    program.bus.send("registrations.requests.v1", ev.registration_submitted("r-1", "p-a"))
    program.bus.send("crm.v1", ev.deal_closed("d-1", registration_id="r-1", amount="1000.00"))
    assert program.dealreg("projections", "rebuild").status == 0
    in_usd = program.dealreg("partners", "top")
    assert in_usd.status == 0, in_usd.stderr
    assert in_usd.stderr == ("dealreg: no partner-sourced revenue in USD; there is some in "
                             "EUR (--currency EUR)\n")
    in_eur = program.dealreg("partners", "top", "--currency", "EUR")
    assert in_eur.stderr == ""
    assert in_eur.stdout.splitlines()[1].split()[:2] == ["p-a", "1000.00"]
