"""On PostgreSQL: ``dealreg db init``'s service role can only append to history, the triggers
bind the owner too, and a row altered behind their back is named by ``audit verify``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from psycopg import sql

from dealreg.actions import now
from dealreg.api.tokens import TokenStore
from dealreg.bootstrap import REGISTRATION
from dealreg.cli.database import init
from dealreg.services.partners import Partner
from dealreg.settings import Settings
from tests.support.events import encode, partner_enrolled, registration_submitted
from tests.support.kafka import produce, read_topic
from tests.support.processes import run_dealreg
from tests.support.running import app_of, eventually, running

PASSWORD = "pw-" + uuid.uuid4().hex[:8]


@pytest.fixture
def service_role(postgres_settings: Settings) -> Iterator[tuple[Settings, Settings]]:
    """(admin settings, the services' settings as the role ``db init`` created)."""
    role = f"{postgres_settings.db_schema_prefix}svc"
    admin = replace(postgres_settings, cipher_key=AESCipher.create_key(16))
    steps = init(admin, role, PASSWORD)
    assert any("append-only" in step for step in steps)
    url = urlsplit(admin.database_url)
    as_role = urlunsplit(url._replace(netloc=f"{role}:{PASSWORD}@{url.hostname}:{url.port}"))
    yield admin, replace(admin, database_url=as_role, create_tables=False)
    with psycopg.connect(admin.database_url, autocommit=True) as conn:
        for schema in ("registration", "conflict", "payouts", "projections", "api"):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(f"{admin.db_schema_prefix}{schema}")))
        conn.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))


def events_table(settings: Settings) -> sql.Composed:
    return sql.SQL("{}.registration_events").format(
        sql.Identifier(f"{settings.db_schema_prefix}registration"))


async def test_the_service_role_appends_and_nothing_else(
        service_role: tuple[Settings, Settings]) -> None:
    admin, service = service_role
    async with running(REGISTRATION, service) as runtime:  # works end to end as the role
        await produce(service, "partners.v1", [encode(partner_enrolled("p-1"))])
        await eventually(lambda: app_of(runtime).stored(Partner.create_id("p-1")))
        await produce(service, "registrations.requests.v1",
                      [encode(registration_submitted("r-1", "p-1"))])
        [received] = await read_topic(service, "registrations.v1", at_least=1)
    assert received.json()["data"]["registration_id"] == "r-1"

    table = events_table(admin)
    with psycopg.connect(service.database_url, autocommit=True) as conn:
        for change in ("UPDATE {} SET topic = topic", "DELETE FROM {}", "TRUNCATE {}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match="permission denied"):
                conn.execute(sql.SQL(change).format(table))
    with psycopg.connect(admin.database_url, autocommit=True) as conn:  # the owner neither
        for change in ("UPDATE {} SET topic = topic", "DELETE FROM {}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match="stored events are append-only"):
                conn.execute(sql.SQL(change).format(table))
        states = [bytes(state) for (state,) in conn.execute(
            sql.SQL("SELECT state FROM {}").format(table))]
    assert states, "the registration service stored events"
    assert not any(b"jo.buyer@acme.example" in state for state in states)  # encrypted

    stdout, _ = await run_dealreg(service, "audit", "verify")
    assert "registration: ok" in stdout


async def test_a_row_altered_by_a_superuser_is_named_by_audit_verify(
        service_role: tuple[Settings, Settings]) -> None:
    admin, service = service_role
    app = REGISTRATION.build_application(service)
    for n in range(3):
        app.save(Partner(partner_id=f"p-{n}", name="Partner", program="referral",
                         tier="gold", enrolled_at=datetime(2026, 1, 1, tzinfo=UTC)))
    app.close()
    table = events_table(admin)
    with psycopg.connect(admin.database_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        [(position,)] = conn.execute(sql.SQL(
            "UPDATE {} SET originator_version = 7 WHERE notification_id = "
            "(SELECT min(notification_id) + 1 FROM {}) RETURNING notification_id"
        ).format(table, table)).fetchall()

    stdout, _ = await run_dealreg(service, "audit", "verify", status=1)
    assert (f"registration: FAILED after 1 good events: registration position {position} "
            "(Partner.Enrolled of") in stdout
    assert "v7): does not match its recorded hash" in stdout
    assert "conflict: ok, 0 events" in stdout


def test_the_service_role_reads_the_api_tokens_and_cannot_make_or_revoke_them(
        service_role: tuple[Settings, Settings]) -> None:
    admin, service = service_role
    token = TokenStore.open(admin).create("ops-lead", "sales_ops", None, now())
    tokens = TokenStore.open(service)
    holder = tokens.authenticate(token)
    assert holder is not None
    assert holder.name == "ops-lead"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        tokens.create("intruder", "auditor", None, now())
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        tokens.revoke("ops-lead", now())
