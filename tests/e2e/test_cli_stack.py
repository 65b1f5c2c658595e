"""The README's local flow, as a user runs it: ``dealreg up``, ``publish``, ``tail``, Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dealreg.local_broker import free_port
from tests.support.processes import DEALREG, StderrLines

REPO = Path(__file__).resolve().parents[2]
Stack = tuple[dict[str, str], subprocess.Popen[str], "StderrLines"]
#: The directory every ``dealreg`` of a test runs in (the DEALREG_DATA_DIR default,
#: ``.dealreg``, is relative to it): a fresh copy of the repository, or the repository.
HOME = "DEALREG_TEST_HOME"


def fresh_clone(where: Path) -> Path:
    """What a fresh clone of the repository holds, with the working tree's content: every
    tracked file and nothing else (no ``.dealreg``, no ``.venv``, no untracked file). The
    test's Python runs it: ``python -m dealreg.cli`` imports the copy's ``dealreg``
    (:func:`test_the_fresh_clone_runs_its_own_code`)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, copy = REPO / name, where / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # dealreg/services -> ../services, as git keeps it
            copy.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, copy)
    return where


def test_the_fresh_clone_runs_its_own_code(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    imported = subprocess.run(
        [sys.executable, "-c", "import dealreg.cli, dealreg.services.conflict.salesops as s; "
         "print(dealreg.cli.__file__); print(s.__file__)"],
        cwd=clone, capture_output=True, text=True, check=True).stdout.splitlines()
    assert [Path(line).resolve().is_relative_to(clone.resolve()) for line in imported] == [
        True, True]


@pytest.fixture(params=[[], ["--processes"]], ids=["one-process", "processes"])
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """``dealreg up`` on its local default, in a fresh clone, as the README runs it: the
    bundled broker and SQLite files under ``.dealreg``; in one process, and with each
    service in a process of its own."""
    clone = fresh_clone(tmp_path / "clone")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    env |= {
        "DEALREG_LOCAL_BROKER_PORT": str(port),
        "DEALREG_SESSION_TIMEOUT_MS": "2000",
        "DEALREG_LOG_FORMAT": "text",
        "DEALREG_API_PORT": str(free_port()),
        HOME: str(clone),
    }
    up = subprocess.Popen([*DEALREG, "up", *request.param], cwd=clone, env=env, text=True,
                          stderr=subprocess.PIPE)
    lines = StderrLines(up)
    banner = lines.wait_for("dealreg up:")
    assert f"127.0.0.1:{port}" in banner
    assert f"sqlite files under {clone}/.dealreg" in banner
    yield env, up, lines  # the clients find the broker by DEALREG_LOCAL_BROKER_PORT
    if up.poll() is None:
        up.kill()
        up.wait()


def dealreg(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(DEALREG + list(args), cwd=env.get(HOME, REPO), env=env, text=True,
                          capture_output=True, input=stdin, timeout=120, check=False)


def readme_walk_through() -> list[list[str]]:
    """The arguments of every ``.venv/bin/dealreg`` command of the README's walk-through
    (its first section), in order, without the ones that run until Ctrl-C (a second
    stack: ``broker``, ``serve``)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## ")[1]
    commands = [shlex.split(line.split("#")[0])[1:] for line in section.splitlines()
                if line.startswith(".venv/bin/dealreg ")]
    return [command for command in commands if command[0] not in ("broker", "serve")]


def test_up_publish_tail_and_clean_stop(
    stack: Stack,
) -> None:
    """The README's walk-through from a fresh clone, on today's date: each of its commands
    as it is written there, then what the README says they show."""
    env, up, lines = stack
    walk_through = readme_walk_through()
    assert [command[:2] for command in walk_through] == [
        ["examples"], ["publish", "partners.v1"], ["publish", "registrations.requests.v1"],
        ["tail", "registrations.v1"], ["publish", "crm.v1"], ["tail", "payouts.v1"]]
    for command in walk_through:
        ran = dealreg(env, *command)
        assert ran.returncode == 0, (command, ran.stderr)
        if command[0] == "publish":
            time.sleep(1.5)  # the partner directory is read before the registrations arrive
    assert_examples_decided(env)
    assert_the_api_serves_the_partner(env, lines)
    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=60) == 0
    lines.wait_for("stopping")


def assert_the_api_serves_the_partner(env: dict[str, str], lines: StderrLines) -> None:
    """``dealreg up`` serves the HTTP API on DEALREG_API_PORT: a partner's token reads the
    partner's registration, decided by the stack, and lists it from the read models."""
    where = f"http://127.0.0.1:{env['DEALREG_API_PORT']}"
    assert where in lines.wait_for("dealreg api:")
    created = dealreg(env, "tokens", "create", "--role", "partner", "--partner",
                      "partner-northwind", "--name", "northwind-portal")
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
    with httpx.Client(base_url=where, headers=headers, timeout=30) as client:
        assert client.get("/openapi.json").status_code == 200
        read = client.get("/api/v1/registrations/reg-1001").json()
        assert (read["status"], read["account_key"]) == ("approved", "domain:xn--mller-kva.de")
        listed = client.get("/api/v1/registrations").json()["registrations"]
        assert "reg-1001" in [r["registration_id"] for r in listed]
        assert client.get("/api/v1/registrations/reg-1002").status_code == 404  # contoso's


def test_a_killed_service_process_is_started_again_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    env |= {"DEALREG_LOCAL_BROKER_PORT": str(port), "DEALREG_DATA_DIR": str(tmp_path / "data"),
            "DEALREG_SESSION_TIMEOUT_MS": "2000", "DEALREG_LOG_FORMAT": "json",
            "DEALREG_API_PORT": str(free_port())}
    up = subprocess.Popen([*DEALREG, "up", "--processes"], cwd=REPO, env=env, text=True,
                          stderr=subprocess.PIPE)
    lines = StderrLines(up)
    try:
        started = json.loads(lines.wait_for('"child": "registration"'))
        lines.wait_for('"service": "registration"')  # its store is open
        os.kill(started["pid"], signal.SIGKILL)
        lines.wait_for("process exited; starting it again")
        again = json.loads(lines.wait_for('"process started"', '"restarts": 1}'))
        assert again["child"] == "registration"
        assert again["pid"] != started["pid"]
        client_env = {key: value for key, value in env.items()
                      if key != "DEALREG_LOCAL_BROKER_PORT"}
        client_env["DEALREG_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{port}"
        publish_examples(client_env)
        assert_examples_decided(client_env)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def publish_examples(env: dict[str, str]) -> None:
    """The README's example events, moved to today, published as the README does."""
    written = dealreg(env, "examples")
    assert written.returncode == 0, written.stderr
    for topic, name in (("partners.v1", "partners"),
                        ("registrations.requests.v1", "registrations"), ("crm.v1", "crm")):
        published = dealreg(env, "publish", topic, f"{env['DEALREG_DATA_DIR']}/examples/"
                            f"{name}.jsonl")
        assert published.returncode == 0, published.stderr
        time.sleep(1.5)  # the partner directory is read before the registrations arrive


def assert_examples_decided(env: dict[str, str]) -> None:
    """The README's example partners and registrations, published, are all decided as the
    README says on today's date (approved; the 30-day window of reg-1002 ended, the 75-day
    ones hold), and the projections and the audit chain follow; its example deal and
    invoice pay the msp partner its revenue share."""
    deadline = time.monotonic() + 90
    events: list[dict[str, Any]] = []
    approved: dict[str, dict[str, Any]] = {}
    expired: set[str] = set()
    while (len(approved) < 4 or not expired) and time.monotonic() < deadline:
        tailed = dealreg(env, "tail", "registrations.v1", "--from-beginning", "--idle-exit", "2")
        assert tailed.returncode == 0, tailed.stderr
        events = [json.loads(line) for line in tailed.stdout.splitlines()]
        approved = {e["subject"]: e for e in events
                    if e["type"] == "dealreg.registration.approved.v1"}
        expired = {e["subject"] for e in events
                   if e["type"] == "dealreg.registration.expired.v1"}
    received = {e["subject"]: e for e in events
                if e["type"] == "dealreg.registration.received.v1"}
    assert sorted(received) == sorted(approved) == ["reg-1001", "reg-1002", "reg-1003",
                                                    "reg-1004"]
    assert expired == {"reg-1002"}  # a silver referral partner's 30 days have ended
    today = datetime.now(UTC)
    for registration_id in ("reg-1001", "reg-1003", "reg-1004"):
        window_end = datetime.fromisoformat(approved[registration_id]["data"]["expires_at"])
        assert today < window_end, registration_id
    assert received["reg-1001"]["data"]["account_key"] == "domain:xn--mller-kva.de"
    assert received["reg-1002"]["data"]["account_key"] == "name:US:acme"
    assert approved["reg-1001"]["data"]["window_days"] == 75  # a gold reseller
    held = dealreg(env, "accounts", "show", "globex.example")
    assert held.returncode == 0, held.stderr
    assert "held by reg-1003 (partner-northwind)" in held.stdout

    ranked: list[dict[str, Any]] = []  # the stack keeps the projections up to date
    while sum(p["registrations_approved"] for p in ranked) < 4 and time.monotonic() < deadline:
        top = dealreg(env, "partners", "top", "--json")
        assert top.returncode == 0, top.stderr
        ranked = json.loads(top.stdout)
    assert sorted(p["partner_id"] for p in ranked) == ["partner-contoso", "partner-fabrikam",
                                                       "partner-northwind"]
    assert sum(p["registrations_approved"] for p in ranked) == 4
    assert_revenue_share_paid(env, deadline)
    verified = dealreg(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.count(": ok,") == 3


def assert_revenue_share_paid(env: dict[str, str], deadline: float) -> None:
    """The README's deal and invoice: 2500.00 of recurring revenue at the msp gold rate,
    payable on the day of the invoice: yesterday."""
    shares: list[dict[str, Any]] = []
    payable: list[str] = []
    while not shares and time.monotonic() < deadline:
        tailed = dealreg(env, "tail", "payouts.v1", "--from-beginning", "--idle-exit", "2")
        assert tailed.returncode == 0, tailed.stderr
        payouts = [json.loads(line) for line in tailed.stdout.splitlines()]
        shares = [line for event in payouts for line in event["data"].get("lines", [])
                  if line["kind"] == "revenue_share"]
        payable = [event["data"]["payable_on"] for event in payouts
                   if event["data"].get("invoice_id") == "inv-3001"]
    assert shares == [{"kind": "revenue_share",
                       "base": {"amount": "2500.00", "currency": "EUR"}, "rate": "0.20",
                       "share": "1", "amount": {"amount": "500.00", "currency": "EUR"}}]
    assert payable == [(datetime.now(UTC).date() - timedelta(days=1)).isoformat()]


def test_publish_validates_every_line_before_producing(
    stack: Stack,
) -> None:
    env, _, _ = stack
    good = Path(REPO / "examples/partners.jsonl").read_text(encoding="utf-8").splitlines()[0]
    bad = json.loads(good)
    del bad["data"]["tier"]
    result = dealreg(env, "publish", "partners.v1", "-",
                     stdin="\n".join([good, json.dumps(bad), "{oops"]) + "\n")
    assert result.returncode == 1
    assert "line 2: data.tier" in result.stderr
    assert "line 3:" in result.stderr
    assert "nothing was produced" in result.stderr
    tailed = dealreg(env, "tail", "partners.v1", "--from-beginning", "--idle-exit", "1")
    assert tailed.stdout == ""


@pytest.mark.parametrize("mode", [[], ["--processes"]], ids=["one-process", "processes"])
def test_ctrl_c_in_a_terminal_stops_the_stack_before_its_broker(tmp_path: Path,
                                                                 mode: list[str]) -> None:
    """A terminal's Ctrl-C reaches the whole foreground process group: the bundled broker
    must outlive the services' shutdown, which publishes what they stored."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    env |= {"DEALREG_LOCAL_BROKER_PORT": str(port), "DEALREG_DATA_DIR": str(tmp_path / "data"),
            "DEALREG_SESSION_TIMEOUT_MS": "2000", "DEALREG_API_PORT": str(free_port())}
    up = subprocess.Popen([*DEALREG, "up", *mode], cwd=REPO, env=env, text=True,
                          stderr=subprocess.PIPE, start_new_session=True)
    lines = StderrLines(up)
    lines.wait_for("dealreg up:")
    for service in ("registration", "conflict", "payouts"):  # every process is past its start
        lines.wait_for('"service started"', f'"service": "{service}"')
    lines.wait_for("dealreg api:")
    if mode:
        lines.wait_for("following the event stores")  # the projections process
    time.sleep(3)  # consumers joined their groups
    os.killpg(up.pid, signal.SIGINT)  # what the terminal does
    assert up.wait(timeout=60) == 0
    lines.wait_for("local broker stopped")
    problems = [line for line in lines.lines if '"level": "error"' in line or "Traceback" in line]
    assert problems == []
