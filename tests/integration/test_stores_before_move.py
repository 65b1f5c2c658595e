"""Stores written before the packages moved under ``dealreg`` (0.1: top-level ``services``,
``events``, ``projections``) still load: every stored topic resolves, the tools read the same
reports from them, and the rules that query stored events by class find the old ones."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from dealreg import audit
from dealreg.bootstrap import service_stores
from dealreg.services.conflict import salesops
from dealreg.services.payouts import reports
from dealreg.services.registration.expiry import ExpiryIndex
from dealreg.settings import Settings

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "stores-before-move"


def reports_of(data_dir: Path) -> dict[str, Any]:
    """What the tools read from the stores (the same as the fixture's expected.json, which
    the code before the move wrote from them)."""
    with service_stores(Settings(data_dir=data_dir)) as apps:
        index = ExpiryIndex()
        index.catch_up(apps["registration"])
        disputes = salesops.list_disputes(apps["conflict"])
        return {
            "verify": [str(audit.verify(name, app)) for name, app in apps.items()],
            "history_d1": [(e["application"], e["type"]) for e in audit.history(apps, "d-1")],
            "disputes": disputes,
            "replay": salesops.replay(apps["conflict"], disputes[0]["dispute_id"]),
            "payouts_d1": reports.show(apps["payouts"], "d-1"),
            "recompute": reports.recompute(apps["payouts"]),
            "statement": reports.statement(apps["payouts"], "p-b", date(2026, 1, 1),
                                           date(2026, 12, 31)),
            "expiry_pending": sorted(index.pending),
            "accounts": salesops.account_keys(apps["conflict"]),
        }


def test_a_store_written_before_the_move_reads_as_it_did(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "stores", ignore=shutil.ignore_patterns("*.json"))
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))

    read = json.loads(json.dumps(reports_of(tmp_path / "stores"), default=str, sort_keys=True))

    assert read == expected
    assert read["expiry_pending"], "the expiry index found the old approvals"
    assert len(read["history_d1"]) > 10


def test_every_event_of_a_store_written_before_the_move_decodes(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "stores", ignore=shutil.ignore_patterns("*.json"))
    with service_stores(Settings(data_dir=tmp_path / "stores")) as apps:
        for app in apps.values():
            notifications = app.recorder.select_notifications(start=None, limit=10_000)
            old = [n for n in notifications if n.topic.startswith("services.")]
            assert old, "the fixture holds events under the former package name"
            for notification in notifications:
                event = app.mapper.to_domain_event(notification)
                assert type(event).__module__.startswith("dealreg."), notification.topic
