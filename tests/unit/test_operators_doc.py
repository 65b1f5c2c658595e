"""docs/operators.md's Prometheus examples: valid YAML, and every dealreg metric the alert
rules use is one the services expose."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import dealreg.metrics  # noqa: F401 (registers the services' metrics)

DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"
#: the names of the samples each kind of metric family exposes
SAMPLES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def yaml_blocks() -> list[Any]:
    text = DOC.read_text(encoding="utf-8")
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def exposed() -> set[str]:
    return {family.name + suffix for family in REGISTRY.collect()
            if family.name.startswith("dealreg_") for suffix in SAMPLES[family.type]}


def test_the_alert_rules_use_only_metrics_the_services_expose() -> None:
    rules = [rule for block in yaml_blocks() if isinstance(block, dict) and "groups" in block
             for group in block["groups"] for rule in group["rules"]]
    alerts = {rule["alert"] for rule in rules}
    assert {"DealregLagGrowing", "DealregDeadLetters", "DealregOutboxStuck",
            "DealregStoreRetries"} <= alerts
    used = {name for rule in rules for name in re.findall(r"\bdealreg_[a-z_]+", rule["expr"])}
    assert used
    assert used <= exposed(), used - exposed()


def test_the_scrape_example_names_the_default_port_and_the_processes_ports() -> None:
    configs = [block for block in yaml_blocks()
               if isinstance(block, dict) and "scrape_configs" in block]
    targets = {target for config in configs for job in config["scrape_configs"]
               for static in job["static_configs"] for target in static["targets"]}
    assert {"registration:9464", "127.0.0.1:9465", "127.0.0.1:9466"} <= targets


def test_the_metrics_table_lists_every_metric() -> None:
    text = DOC.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(dealreg_[a-z_]+)`", text, re.M))
    names = {family.name + ("_total" if family.type == "counter" else "")
             for family in REGISTRY.collect() if family.name.startswith("dealreg_")}
    assert listed == names
