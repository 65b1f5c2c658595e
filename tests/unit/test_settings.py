"""Configuration from DEALREG_* variables and CLI flags."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from dealreg.cli import _parser, _settings, main
from dealreg.settings import Settings, SettingsError, env_name


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({})
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8080)  # this machine only
    assert settings.data_dir == Path(".dealreg")
    assert not settings.uses_postgres
    assert settings.bootstrap == "127.0.0.1:9092"
    assert settings.topic("registrations.v1") == "registrations.v1"
    assert settings.consumer_group("payouts") == "dealreg-payouts"


def test_environment_variables_are_read_and_converted() -> None:
    settings = Settings.from_env({
        "DEALREG_TOPIC_PREFIX": "acme.",
        "DEALREG_PARTITIONS": "12",
        "DEALREG_DATA_DIR": "/var/lib/dealreg",
        "DEALREG_DATABASE_URL": "postgresql://svc:s3cret@db:5433/dealreg",
        "DEALREG_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092",
        "UNRELATED": "x",
    })
    assert settings.topic("crm.v1") == "acme.crm.v1"
    assert settings.logical_topic("acme.crm.v1") == "crm.v1"
    assert settings.partitions == 12
    assert settings.data_dir == Path("/var/lib/dealreg")
    assert settings.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert "s3cret" not in settings.store_description()
    assert "db:5433/dealreg" in settings.store_description()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DEALREG_PARTITIONS": "many"}, "DEALREG_PARTITIONS must be a whole number"),
        ({"DEALREG_PARTITIONS": "0"}, "DEALREG_PARTITIONS must be at least 1"),
        ({"DEALREG_DATABASE_URL": "mysql://x/y"}, "DEALREG_DATABASE_URL must be a postgresql://"),
        ({"DEALREG_LOG_FORMAT": "xml"}, "DEALREG_LOG_FORMAT must be 'json' or 'text'"),
        ({"DEALREG_API_PORT": "http"}, "DEALREG_API_PORT must be a whole number"),
        ({"DEALREG_API_PORT": "65536"}, "DEALREG_API_PORT must be a port number"),
        ({"DEALREG_API_HOST": " "}, "DEALREG_API_HOST must name an address"),
        ({"DEALREG_METRICS_PORT": "65534"}, "DEALREG_METRICS_PORT must be a port number"),
        ({"DEALREG_DRAIN_SECONDS": "-1"}, "DEALREG_DRAIN_SECONDS must be 0 or more"),
        ({"DEALREG_OUTBOX_STUCK_SECONDS": "0"}, "DEALREG_OUTBOX_STUCK_SECONDS must be at"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_flags_override_the_environment() -> None:
    settings = Settings.from_env({"DEALREG_TOPIC_PREFIX": "env."}).with_overrides(
        topic_prefix="flag.", partitions=None)
    assert settings.topic_prefix == "flag."
    assert settings.partitions == 3
    api = Settings.from_env({"DEALREG_API_PORT": "9000", "DEALREG_API_HOST": "0.0.0.0"})
    assert (api.api_host, api.api_port) == ("0.0.0.0", 9000)


@pytest.mark.parametrize("command", [["api"], ["up"]])
def test_the_api_address_has_flags(command: list[str]) -> None:
    args = _parser().parse_args([*command, "--api-host", "0.0.0.0", "--api-port", "9001"])
    settings = _settings(args)
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 9001)


@pytest.mark.parametrize("command", [["serve", "payouts"], ["up"]])
def test_the_metrics_port_has_a_flag(command: list[str]) -> None:
    assert Settings().metrics_port == 9464  # not the API's 8080
    settings = _settings(_parser().parse_args([*command, "--metrics-port", "9500"]))
    assert settings.metrics_port == 9500


def test_the_cli_reports_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEALREG_BATCH_MAX_RECORDS", "lots")
    assert main(["topics", "create"]) == 2
    assert "configuration error: DEALREG_BATCH_MAX_RECORDS" in capsys.readouterr().err


def test_every_setting_is_in_the_readmes_configuration_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `") for line in readme.splitlines()
            if line.startswith("| `DEALREG_")}
    assert {env_name(spec.name) for spec in fields(Settings)} <= rows
