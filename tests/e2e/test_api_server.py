"""The HTTP API served by uvicorn, against the real local broker with the three services
running (SQLite and PostgreSQL): program ops enroll a partner through the API, the partner
registers through it, the services approve, and the partner reads the approval; sales ops
pay a manual adjustment through it. And ``dealreg api`` as a process: its address, its
documents, a taken port in one line, and log lines with no token, e-mail or query string."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dealreg.actions import now
from dealreg.api.server import serve
from dealreg.api.tokens import TokenStore
from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.events.schemas.values import format_utc
from dealreg.local_broker import free_port
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.contract import assert_valid_event
from tests.support.kafka import produce, read_topic
from tests.support.processes import REPO
from tests.support.running import eventually, running_all
from tests.support.watch import watching

REGS, PAYOUTS_TOPIC = "registrations.v1", "payouts.v1"


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API of ``settings`` on a port of its own, until the block ends."""
    stop = asyncio.Event()
    server = asyncio.create_task(serve(settings, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}",
                                     timeout=30) as client:
            await eventually(lambda: _answers(settings.api_port))
            yield client
    finally:
        stop.set()
        await server


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


REGISTRATION_BODY: dict[str, Any] = {
    "prospect": {"company_name": "Acme, Inc.", "domain": "acme.example", "country": "US",
                 "segment": "mid"},
    "contact": {"name": "Jo Buyer", "email": "jo.buyer@acme.example"},
    "estimated_value": {"amount": "25000.00", "currency": "EUR"},
    "expected_close_date": "2026-05-01", "submitted_at": "2026-03-01T10:00:00Z"}


async def test_a_partner_registers_through_the_api_and_the_registration_is_approved(
        settings: Settings) -> None:
    settings = settings.with_overrides(api_port=free_port())
    tokens = TokenStore.open(settings)
    partner = bearer(tokens.create("northwind-portal", "partner", "p-north", now()))
    program = bearer(tokens.create("program-ops", "program_ops", None, now()))
    ops = bearer(tokens.create("ops-lead", "sales_ops", None, now()))
    async with running_all(settings, REGISTRATION, CONFLICT, PAYOUTS), watching(
            settings, REGS, PAYOUTS_TOPIC) as watch, served(settings) as client:
        enrolled = await client.post("/api/v1/partners", headers=program, json={
            "partner_id": "p-north", "name": "Northwind", "program": "referral",
            "tier": "gold", "enrolled_at": "2026-01-01T00:00:00Z"})
        assert enrolled.status_code == 202, enrolled.text
        today = datetime.now(UTC).replace(microsecond=0)  # a window that is not over yet
        submitted = await client.post("/api/v1/registrations", headers=partner,
                                      json=REGISTRATION_BODY | {
                                          "submitted_at": format_utc(today),
                                          "expected_close_date": str(today.date())})
        assert submitted.status_code == 202, submitted.text
        registration_id = submitted.json()["registration_id"]

        approved = await watch.one(REGS, registration_id, "registration.approved")
        assert approved["data"]["partner_id"] == "p-north"
        read = await eventually(lambda: _approved(settings, registration_id, partner))
        assert read["window"]["expires_at"] == approved["data"]["expires_at"]
        [record] = await read_topic(settings, "registrations.requests.v1", at_least=1)
        assert (record.key, record.json()) == (registration_id.encode(),
                                               submitted.json()["event"])
        assert record.headers["content-type"] == b"application/cloudevents+json"
        assert_valid_event(record.json(), "registrations.requests.v1")

        await produce(settings, "crm.v1", [ev.encode(ev.deal_closed(
            "d-1", registration_id=registration_id, closed_at=format_utc(today)))], key=b"d-1")
        await watch.one(PAYOUTS_TOPIC, "d-1", "payout.calculated")
        adjusted = await client.post("/api/v1/payouts/adjustments", headers=ops, json={
            "deal_id": "d-1", "partner_id": "p-north",
            "amount": {"amount": "150.00", "currency": "EUR"}, "reason": "goodwill"})
        assert adjusted.status_code == 202, adjusted.text
        await watch.wait(lambda: bool(watch.of(PAYOUTS_TOPIC, "d-1", "payout.adjusted")))
        [manual] = watch.of(PAYOUTS_TOPIC, "d-1", "payout.adjusted")
        assert (manual["data"]["reason"], manual["data"]["adjustment_id"]) == (
            "manual", adjusted.json()["adjustment_id"])


def _approved(settings: Settings, registration_id: str,
              headers: dict[str, str]) -> dict[str, Any] | None:
    answer = httpx.get(f"http://127.0.0.1:{settings.api_port}/api/v1/registrations/"
                       f"{registration_id}", headers=headers, timeout=10)
    found: dict[str, Any] = answer.json()
    return found if answer.status_code == 200 and found["status"] == "approved" else None


def _environment(tmp_path: Path, port: int, level: str = "DEBUG") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    return env | {"DEALREG_DATA_DIR": str(tmp_path / "data"), "DEALREG_API_PORT": str(port),
                  "DEALREG_LOG_FORMAT": "json", "DEALREG_LOG_LEVEL": level,
                  "DEALREG_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}  # no broker there


def test_dealreg_api_serves_and_logs_no_token_email_or_query_string(tmp_path: Path) -> None:
    port = free_port()
    env = _environment(tmp_path, port)
    command = [sys.executable, "-m", "dealreg.cli"]
    created = subprocess.run([*command, "tokens", "create", "--role", "partner", "--partner",
                              "p-north", "--name", "northwind-portal"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60, check=True)
    token = created.stdout.strip()
    api = subprocess.Popen([*command, "api"], cwd=REPO, env=env, text=True,
                           stderr=subprocess.PIPE)
    try:
        assert api.stderr is not None
        banner = api.stderr.readline()
        while not banner.startswith("dealreg api:"):
            banner = api.stderr.readline()
        where = f"http://127.0.0.1:{port}"
        assert banner.startswith(f"dealreg api: {where} | OpenAPI at {where}/openapi.json, "
                                 f"docs at {where}/docs")
        with httpx.Client(base_url=where, timeout=30) as client:
            assert client.get("/openapi.json").json()["info"]["title"] == "dealreg"
            assert "swagger" in client.get("/docs").text.lower()
            headers = bearer(token) | {"Cookie": "session=cookie-secret-123"}
            body = dict(REGISTRATION_BODY)
            unsent = client.post("/api/v1/registrations", headers=headers, json=body)
            assert unsent.status_code == 503  # no broker: nothing sent, said in a problem
            assert unsent.headers["content-type"] == "application/problem+json"
            listed = client.get("/api/v1/registrations", headers=headers,
                                params={"access_token": token, "email": "jo.buyer@acme.example"})
            assert listed.status_code == 200
            assert client.get("/api/v1/registrations", headers=bearer(token + "x")
                              ).status_code == 401
        api.send_signal(signal.SIGTERM)
        _, rest = api.communicate(timeout=60)
    finally:
        if api.poll() is None:
            api.kill()
            api.wait()
    assert api.returncode == 0
    logged = [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    requests = [(entry["method"], entry["path"], entry["status"]) for entry in logged
                if entry["msg"] == "request"]
    assert ("POST", "/api/v1/registrations", 503) in requests
    assert ("GET", "/api/v1/registrations", 401) in requests
    for secret in (token, "jo.buyer", "cookie-secret", "access_token", "Bearer"):
        assert secret not in rest


@pytest.mark.parametrize("command", [["api"], ["up"], ["up", "--processes"]],
                         ids=["api", "up", "up-processes"])
def test_a_taken_port_is_said_in_one_line_before_anything_starts(
        tmp_path: Path, command: list[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ran = subprocess.run([sys.executable, "-m", "dealreg.cli", *command], cwd=REPO,
                             env=_environment(tmp_path, port, "INFO"), capture_output=True,
                             text=True,
                             timeout=60, check=False)
    assert ran.returncode == 1
    assert ran.stderr.splitlines() == [
        f"dealreg: the HTTP API cannot listen on 127.0.0.1:{port}: Address already in use"]
