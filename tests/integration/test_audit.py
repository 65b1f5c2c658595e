"""Audit: the history of a deal across the three services, the hash chains and their
verification (by ``dealreg audit verify`` and by an auditor's own script on an export)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dealreg import audit
from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION, prepare_stores, service_stores
from dealreg.services.conflict import salesops
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.bus import InMemoryBus
from tests.support.processes import REPO, run_dealreg

VERIFY_EXPORT = REPO / "examples" / "audit" / "verify_export.py"


def disputed_paid_refunded(settings: Settings) -> None:
    """r-2 loses acme to r-1, its partner disputes and wins; the deal is paid, then refunded."""
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    for partner_id in ("p-a", "p-b"):
        bus.send("partners.v1", ev.partner_enrolled(partner_id, enrolled_at="2026-01-01T00:00:00Z"))
    for registration_id, partner_id, submitted in (("r-1", "p-a", "2026-02-01"),
                                                   ("r-2", "p-b", "2026-02-05")):
        bus.send("registrations.requests.v1", ev.registration_submitted(
            registration_id, partner_id, submitted_at=f"{submitted}T00:00:00Z",
            expected_close_date="2026-08-01"))
    bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-02-10T00:00:00Z"))
    [dispute] = salesops.list_disputes(bus.app("conflict"))
    bus.send("salesops.v1", ev.dispute_resolved(dispute["dispute_id"], {"registration_id": "r-2"},
                                                resolved_at="2026-02-20T00:00:00Z"))
    bus.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-03-01T00:00:00Z",
                                      registration_id="r-2"))
    bus.send("crm.v1", ev.deal_refunded("d-1", "2026-04-01T00:00:00Z"))
    assert bus.rejected == []
    bus.close()


def test_the_history_of_a_disputed_paid_refunded_deal_spans_the_three_services(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    disputed_paid_refunded(settings)
    with service_stores(settings) as apps:
        history = audit.history(apps, "d-1")

    steps = [(event["application"], event["type"], event["data"].get("registration_id"))
             for event in history]
    expected = [
        ("registration", "DealRegistration.SubmittedAndReceived", "r-2"),  # r-2 registered
        ("conflict", "AccountClaims.ClaimDenied", "r-2"),       # … loses to r-1
        ("registration", "DealRegistration.Rejected", "r-2"),
        ("conflict", "AccountClaims.DisputeOpened", None),      # p-b disputes
        ("conflict", "AccountClaims.DisputeSettled", None),     # … and wins
        ("registration", "DealRegistration.Approved", "r-2"),
        ("registration", "DealRegistration.Rejected", "r-1"),   # r-1 loses the account
        ("payouts", "AccountFacts.Protected", "r-2"),
        ("payouts", "DealPayouts.ClosedAndCalculated", "r-2"),  # the deal is won and paid
        ("payouts", "DealPayouts.Refunded", None),              # refunded
        ("payouts", "DealPayouts.Adjusted", None),              # payout taken back
    ]
    remaining = iter(steps)
    assert all(step in remaining for step in expected), steps  # in this order
    adjusted = history[-1]
    assert adjusted["type"] == "DealPayouts.Adjusted"
    assert adjusted["data"]["reason"] == "refund"
    assert adjusted["data"]["delta"] == "-25000.00"
    assert len(adjusted["hash"]) == 64


async def test_audit_verify_and_an_auditors_own_check_find_the_altered_event(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "stores")
    disputed_paid_refunded(settings)
    stdout, _ = await run_dealreg(settings, "audit", "verify")
    assert stdout.count(": ok,") == 3
    export = tmp_path / "export.jsonl"
    await run_dealreg(settings, "audit", "export", "--format", "jsonl", "--output", str(export))
    assert auditor_check(export).returncode == 0
    lines = export.read_text().splitlines()
    assert all("contact_email" not in json.loads(line)["data"] for line in lines)

    # Someone with file access removes the refusing trigger and rewrites an amount.
    with sqlite3.connect(settings.data_dir / "payouts.sqlite") as db:
        db.execute("DROP TRIGGER stored_events_refuse_update")
        position, state = db.execute("SELECT rowid, state FROM stored_events "
                                     "WHERE topic LIKE '%Calculated'").fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                   (bytes(state).replace(b"100000.00", b"900000.00"), position))

    stdout, _ = await run_dealreg(settings, "audit", "verify", status=1)
    assert f"payouts: FAILED after {position - 1} good events: payouts position {position} " \
           "(DealPayouts.ClosedAndCalculated" in stdout
    assert "registration: ok" in stdout
    await run_dealreg(settings, "audit", "export", "--output", str(export))
    result = auditor_check(export)
    assert result.returncode == 1
    assert f"payouts position {position} does not match its hash" in result.stdout


def auditor_check(export: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(VERIFY_EXPORT), str(export)],
                          capture_output=True, text=True, check=False)


def test_a_removed_event_is_named(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    disputed_paid_refunded(settings)
    with sqlite3.connect(settings.data_dir / "conflict.sqlite") as db:
        db.execute("DROP TRIGGER stored_events_refuse_delete")
        db.execute("DELETE FROM stored_events WHERE rowid = 3")
    with service_stores(settings) as apps:
        report = audit.verify("conflict", apps["conflict"])
        assert report.problem == ("conflict position 3: event removed (its hash is recorded, "
                                  "the event is gone)")
        assert audit.verify("payouts", apps["payouts"]).problem is None


def test_history_is_append_only_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    disputed_paid_refunded(settings)
    with sqlite3.connect(settings.data_dir / "registration.sqlite") as db:
        for statement in ("UPDATE stored_events SET topic = 'x'", "DELETE FROM stored_events",
                          "DELETE FROM stored_events_hashes"):
            with pytest.raises(sqlite3.IntegrityError, match="stored events are append-only"):
                db.execute(statement)


async def test_audit_verify_of_stores_without_any_event_is_no_pass(tmp_path: Path) -> None:
    """An auditor pointed at the wrong place must not get "ok": where there is no store it
    says so (and creates none); stores without any event are nothing to verify."""
    nowhere = Settings(data_dir=tmp_path / "nowhere")
    _, stderr = await run_dealreg(nowhere, "audit", "verify", status=1)
    assert stderr.startswith(f"dealreg: no registration store at {tmp_path}/nowhere/")
    assert not (tmp_path / "nowhere").exists()
    empty = Settings(data_dir=tmp_path / "empty")
    prepare_stores(empty)
    _, stderr = await run_dealreg(empty, "audit", "verify", status=1)
    assert "dealreg: nothing to verify: the stores hold no event" in stderr
    assert "check --store or --data-dir" in stderr
