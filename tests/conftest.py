"""Shared fixtures: the real local broker, and event stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dealreg.bootstrap import SERVICE_NAMES
from dealreg.local_broker import LocalBroker
from dealreg.settings import Settings

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def test_database_url() -> str:
    return os.environ.get("DEALREG_TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL


@pytest.fixture(scope="session")
def local_broker() -> Iterator[LocalBroker]:
    with LocalBroker(port=0) as broker:
        yield broker


@pytest.fixture
def kafka_settings(local_broker: LocalBroker, tmp_path: Path) -> Settings:
    """Settings on the shared local broker, with topics of this test only."""
    return Settings(
        data_dir=tmp_path / "data",
        kafka_bootstrap=local_broker.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        consumer_group_prefix=f"g{uuid.uuid4().hex[:10]}-",
        partitions=3,
        session_timeout_ms=2000,
        batch_timeout_ms=20,
        outbox_poll_ms=200,
        log_format="text",
    )


def drop_schemas(url: str, prefix: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for service in (*SERVICE_NAMES, "projections", "api"):
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(f"{prefix}{service}")
                )
            )


@pytest.fixture
def postgres_settings(kafka_settings: Settings) -> Iterator[Settings]:
    """``kafka_settings`` with event stores in fresh PostgreSQL schemas, dropped afterwards."""
    url = test_database_url()
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield kafka_settings.with_overrides(database_url=url, db_schema_prefix=prefix)
    drop_schemas(url, prefix)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, kafka_settings: Settings) -> Settings:
    """``kafka_settings`` with an event store of each kind."""
    if request.param == "sqlite":
        return kafka_settings
    configured: Settings = request.getfixturevalue("postgres_settings")
    return configured


