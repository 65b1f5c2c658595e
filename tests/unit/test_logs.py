"""Structured logs never carry contact e-mails or secrets."""

from __future__ import annotations

import json
import logging

import pytest

from dealreg.logs import JsonFormatter, TextFormatter, redact


def record(msg: str, **fields: object) -> logging.LogRecord:
    entry = logging.LogRecord("dealreg.test", logging.INFO, __file__, 1, msg, None, None)
    entry.__dict__.update(fields)
    return entry


def test_json_lines_carry_the_entity_fields() -> None:
    line = JsonFormatter().format(record("registration received", registration_id="r-1",
                                         account_key="domain:acme.example"))
    entry = json.loads(line)
    assert entry["msg"] == "registration received"
    assert entry["level"] == "info"
    assert entry["registration_id"] == "r-1"
    assert entry["account_key"] == "domain:acme.example"


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_emails_and_url_passwords_are_redacted(formatter: logging.Formatter) -> None:
    line = formatter.format(record(
        "contact jo.buyer@acme.example failed",
        detail="write to Jo.Buyer+deals@mail.acme.co.uk",
        store="postgresql://svc:s3cret@db:5432/dealreg",
    ))
    assert "@acme.example" not in line
    assert "mail.acme.co.uk" not in line
    assert "s3cret" not in line
    assert "<email>" in line
    assert "postgresql://svc:***@db:5432/dealreg" in line


def test_redact_leaves_account_keys_alone() -> None:
    assert redact("name:US:acme domain:xn--mller-kva.de") == "name:US:acme domain:xn--mller-kva.de"


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_the_web_servers_coloured_copy_of_a_message_is_left_out(
        formatter: logging.Formatter) -> None:
    line = formatter.format(record("Started server process [7]",
                                   color_message="Started server process [\x1b[36m%d\x1b[0m]"))
    assert "\x1b" not in line
    assert "color_message" not in line


def test_text_lines_start_with_the_utc_time_they_were_logged() -> None:
    logged = record("service started", service="registration")
    logged.created = 1_780_000_000.5  # 2026-05-28T20:26:40.500Z
    line = TextFormatter().format(logged)
    assert line.startswith("2026-05-28T20:26:40.500+00:00 info    dealreg.test: service started")
    assert line.endswith("service=registration")
