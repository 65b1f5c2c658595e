"""The docker-compose stack and image, checked without a Docker engine."""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from dealreg.bootstrap import SERVICE_NAMES
from dealreg.health import HealthEndpoint
from dealreg.settings import Settings, env_name

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(kafka["environment"]["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in kafka["environment"]
    assert not any("zookeeper" in name for name in services)


def test_each_service_is_its_own_container_on_kafka_and_postgres() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    for name in SERVICE_NAMES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["build"] == "."
        environment = service["environment"]
        assert environment["DEALREG_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert environment["DEALREG_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in environment["DEALREG_DATABASE_URL"]
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_services_log_in_as_the_append_only_role_db_init_creates() -> None:
    services = compose()["services"]
    init = services["db-init"]
    assert init["command"] == ["db", "init", "--role", "dealreg_service"]
    assert init["restart"] == "no"
    assert init["environment"]["DEALREG_DATABASE_URL"].startswith("postgresql://dealreg:")
    assert "DEALREG_SERVICE_DB_PASSWORD" in init["environment"]
    for name in (*SERVICE_NAMES, "projections"):
        service = services[name]
        assert service["environment"]["DEALREG_DATABASE_URL"].startswith(
            "postgresql://dealreg_service:")
        assert service["environment"]["DEALREG_CREATE_TABLES"] == "false"
        assert service["depends_on"]["db-init"]["condition"] == "service_completed_successfully"
    assert services["projections"]["command"] == ["projections", "follow"]


def test_the_api_logs_in_as_the_service_role_and_is_published_on_this_machine_only() -> None:
    api = compose()["services"]["api"]
    assert api["command"] == ["api"]
    assert api["environment"]["DEALREG_DATABASE_URL"].startswith("postgresql://dealreg_service:")
    assert api["environment"]["DEALREG_CREATE_TABLES"] == "false"
    assert api["environment"]["DEALREG_API_HOST"] == "0.0.0.0"  # inside its container
    assert api["ports"] == ["127.0.0.1:8080:8080"]
    assert api["depends_on"]["db-init"]["condition"] == "service_completed_successfully"


def test_topics_are_created_once_before_the_services_start() -> None:
    topics = compose()["services"]["topics"]
    assert topics["command"] == ["topics", "create"]
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_every_dealreg_variable_in_the_stack_is_a_real_setting() -> None:
    known = {env_name(spec.name) for spec in fields(Settings)}
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"^\s+(DEALREG_[A-Z_]+):", text, re.MULTILINE))
    assert used, "the stack configures dealreg through DEALREG_* variables"
    assert used <= known, used - known


def test_the_image_runs_the_dealreg_command_as_a_non_root_user() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["dealreg"]' in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    for package in ("dealreg", "services", "events", "projections"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_each_service_has_a_healthcheck_on_its_readiness() -> None:
    services = compose()["services"]
    for name in SERVICE_NAMES:
        check = services[name]["healthcheck"]
        assert check["test"][:3] == ["CMD", "python", "-c"]  # the image has no curl
        assert f"http://127.0.0.1:{Settings().metrics_port}/readyz" in check["test"][3]
        assert services[name]["environment"]["DEALREG_METRICS_HOST"] == "0.0.0.0"
    assert "curl" not in (REPO / "Dockerfile").read_text(encoding="utf-8")


class Service:
    """A service as the endpoint asks it, ready or not as the test says."""

    def __init__(self) -> None:
        self.reasons = ["registration: no input partition assigned yet"]

    async def readiness(self) -> list[str]:
        return self.reasons

    async def measure(self) -> None:
        return None


async def test_the_healthcheck_passes_only_when_the_service_is_ready() -> None:
    """The healthcheck's own command, run against a real endpoint."""
    code = compose()["services"]["registration"]["healthcheck"]["test"][3]
    service = Service()
    endpoint = HealthEndpoint("127.0.0.1", 0)
    endpoint.services.append(service)
    assert await endpoint.start()
    try:
        code = code.replace(f":{Settings().metrics_port}/", f":{endpoint.port}/")

        async def check() -> int:
            run = await asyncio.create_subprocess_exec(sys.executable, "-c", code,
                                                       stderr=asyncio.subprocess.DEVNULL)
            return await run.wait()

        assert await check() != 0
        service.reasons = []
        assert await check() == 0
    finally:
        await endpoint.stop()
