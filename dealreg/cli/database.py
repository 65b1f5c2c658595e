"""``dealreg db init``: the PostgreSQL schemas, tables and an append-only role for the services.

Run once as an administrator (the owner of the database). It creates every service's schema
with its events, hashes and tracking tables (the refusing triggers come with the tables,
see :mod:`dealreg.recorders`) and the projections' schema, then creates or updates the
services' login role with just what they need:

* events and hashes tables: SELECT and INSERT only (no UPDATE, DELETE or TRUNCATE);
* tracking tables (Kafka positions, one row per name): SELECT, INSERT and UPDATE;
* projections (read models, rebuilt at will): SELECT, INSERT, UPDATE and DELETE;
* the HTTP API's tokens: SELECT only (``dealreg tokens``, run as the owner, makes them).

The services then run as that role with ``DEALREG_CREATE_TABLES=false``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import LiteralString

import psycopg
from psycopg import sql

from dealreg.api.tokens import TokenStore
from dealreg.bootstrap import definitions
from dealreg.eventstore import schema_name
from dealreg.projections.store import ReadStore
from dealreg.recorders import ChainedPostgresProcessRecorder
from dealreg.settings import Settings, SettingsError


def init(settings: Settings, role: str, password: str | None) -> list[str]:
    """Create everything and grant ``role``; the steps taken, for the operator."""
    if not settings.uses_postgres:
        raise SettingsError("db init needs DEALREG_DATABASE_URL (postgresql://…); "
                            "SQLite files need no set-up")
    admin = settings.with_overrides(create_tables=True)
    steps = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        _ensure_role(conn, role, password)
        steps.append(f"role {role}: login" + (", password set" if password else ""))
        for name, definition in definitions().items():
            app = definition.build_application(admin)
            try:
                recorder = app.recorder
                assert isinstance(recorder, ChainedPostgresProcessRecorder)
                schema = schema_name(settings, name)
                _grant_service(conn, role, schema, recorder)
            finally:
                app.close()
            steps.append(f"schema {schema}: {recorder.events_table_name} and "
                         f"{recorder.hashes_table_name} append-only for {role}")
        ReadStore.open(admin).close()  # creates the schema and its tables
        schema = schema_name(settings, "projections")
        _grant(conn, "GRANT USAGE ON SCHEMA {schema} TO {role}", schema, role)
        _grant(conn, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
               "TO {role}", schema, role)
        steps.append(f"schema {schema}: read models for {role}")
        TokenStore.open(admin)  # creates the schema and its table
        schema = schema_name(settings, "api")
        _grant(conn, "GRANT USAGE ON SCHEMA {schema} TO {role}", schema, role)
        _grant(conn, "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}", schema, role)
        steps.append(f"schema {schema}: the HTTP API's tokens, read-only for {role} (made and "
                     "revoked by the owner: dealreg tokens)")
    return steps


def _ensure_role(conn: psycopg.Connection[tuple[object, ...]], role: str,
                 password: str | None) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    template = sql.SQL("ALTER ROLE {role} LOGIN" if exists else "CREATE ROLE {role} LOGIN")
    statement = template.format(role=sql.Identifier(role))
    if password:
        statement += sql.SQL(" PASSWORD {password}").format(password=sql.Literal(password))
    conn.execute(statement)


def _grant_service(conn: psycopg.Connection[tuple[object, ...]], role: str, schema: str,
                   recorder: ChainedPostgresProcessRecorder) -> None:
    history = (recorder.events_table_name, recorder.hashes_table_name)
    _grant(conn, "GRANT USAGE ON SCHEMA {schema} TO {role}", schema, role)
    _grant(conn, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}", schema, role)
    for table in history:
        _grant(conn, "REVOKE ALL ON {schema}.{table} FROM {role}", schema, role, table)
        _grant(conn, "GRANT SELECT, INSERT ON {schema}.{table} TO {role}", schema, role, table)
    _grant(conn, "GRANT SELECT, INSERT, UPDATE ON {schema}.{table} TO {role}", schema, role,
           recorder.tracking_table_name)


def _grant(conn: psycopg.Connection[tuple[object, ...]], template: LiteralString, schema: str,
           role: str, table: str = "") -> None:
    conn.execute(sql.SQL(template).format(
        schema=sql.Identifier(schema), role=sql.Identifier(role), table=sql.Identifier(table)))


async def run_db(args: argparse.Namespace, settings: Settings) -> int:
    steps = await asyncio.to_thread(init, settings, args.role,
                                    settings.service_db_password or None)
    for step in steps:
        print(step)
    return 0
