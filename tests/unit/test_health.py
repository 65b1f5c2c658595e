"""The operations endpoint over real HTTP: /healthz, /readyz (200, or 503 with the reasons)
and /metrics in Prometheus' text format; anything else is 404."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from dealreg import metrics
from dealreg.health import HealthEndpoint


class Service:
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        self.measured = 0

    async def readiness(self) -> list[str]:
        return self.reasons

    async def measure(self) -> None:
        self.measured += 1
        metrics.measure("test-health", {("t", 0): 7}, 3)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def test_the_three_paths() -> None:
    ready, starting = Service([]), Service(["conflict: no input partition assigned yet"])
    endpoint = HealthEndpoint("127.0.0.1", 0)
    endpoint.services.extend([ready, starting])
    assert await endpoint.start()
    base = f"http://127.0.0.1:{endpoint.port}"
    try:
        status, kind, body = await asyncio.to_thread(get, f"{base}/healthz")
        assert (status, kind, json.loads(body)) == (200, "application/json", {"alive": True})
        status, _, body = await asyncio.to_thread(get, f"{base}/readyz")
        assert status == 503
        assert json.loads(body) == {"ready": False,
                                    "reasons": ["conflict: no input partition assigned yet"]}
        starting.reasons = []
        status, _, body = await asyncio.to_thread(get, f"{base}/readyz")
        assert (status, json.loads(body)) == (200, {"ready": True})
        status, kind, body = await asyncio.to_thread(get, f"{base}/metrics")
        assert status == 200
        assert kind.startswith("text/plain")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(body) for s in family.samples}
        assert samples["dealreg_consumer_lag", (("partition", "0"), ("service", "test-health"),
                                                ("topic", "t"))] == 7
        assert samples["dealreg_outbox_backlog", (("service", "test-health"),)] == 3
        assert ready.measured == starting.measured == 1
        status, _, body = await asyncio.to_thread(get, f"{base}/nowhere")
        assert status == 404
        assert "/readyz" in json.loads(body)["error"]
    finally:
        await endpoint.stop()


async def test_a_taken_port_leaves_the_service_running_without_the_endpoint() -> None:
    first = HealthEndpoint("127.0.0.1", 0)
    assert await first.start()
    try:
        assert not await HealthEndpoint("127.0.0.1", first.port).start()
    finally:
        await first.stop()


def test_a_partition_no_longer_assigned_loses_its_lag() -> None:
    metrics.measure("test-moved", {("t", 0): 1, ("t", 1): 2}, 0)
    metrics.measure("test-moved", {("t", 1): 0}, 0)
    series = {tuple(sample.labels.values()) for family in metrics.CONSUMER_LAG.collect()
              for sample in family.samples if sample.labels["service"] == "test-moved"}
    assert series == {("test-moved", "t", "1")}
