"""The billing example's own Kafka client is installed by the make target docs/billing.md
names, not left for the reader to guess (``make run`` does not install it)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_billing_example_installs_confluent_kafka_then_runs_the_consumer() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(requirement.startswith("confluent-kafka") for requirement in extras["billing"])
    assert "confluent_kafka" in (REPO / "examples/billing/consumer.py").read_text()
    planned = subprocess.run(["make", "-n", "-B", "billing-example"], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.splitlines()
    install = next(i for i, line in enumerate(planned) if "pip install" in line
                   and "'.[billing]'" in line)
    run = next(i for i, line in enumerate(planned) if "examples/billing/consumer.py" in line)
    assert install < run
    assert "make billing-example" in (REPO / "docs/billing.md").read_text()
