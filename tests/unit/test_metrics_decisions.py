"""The decisions counter is labelled by the event's reason, when its payload has one."""

from __future__ import annotations

from prometheus_client import REGISTRY
from pydantic import BaseModel

from dealreg import metrics


class Rejected(BaseModel):
    registration_id: str
    reason: str


class Approved(BaseModel):
    registration_id: str


def decisions(name: str, reason: str) -> float:
    value = REGISTRY.get_sample_value("dealreg_decisions_total", {
        "service": "test-metrics", "type": name, "reason": reason})
    return value or 0.0


def test_a_decision_is_counted_under_its_reason_or_none() -> None:
    rejected, approved = decisions("r.rejected", "duplicate"), decisions("r.approved", "")
    metrics.emitted("test-metrics", "r.rejected", Rejected(registration_id="r-1",
                                                           reason="duplicate"))
    metrics.emitted("test-metrics", "r.approved", Approved(registration_id="r-2"))
    assert decisions("r.rejected", "duplicate") == rejected + 1
    assert decisions("r.approved", "") == approved + 1
