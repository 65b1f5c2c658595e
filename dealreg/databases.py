"""Plain SQL databases of dealreg's own beside the event stores (read models, API tokens):
a SQLite file ``NAME.sqlite`` in ``DEALREG_DATA_DIR``, or the PostgreSQL schema
``<DEALREG_DB_SCHEMA_PREFIX>NAME`` of ``DEALREG_DATABASE_URL``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from dealreg.eventstore import ensure_schema, schema_name
from dealreg.settings import Settings


class Connection(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def connect(settings: Settings, name: str, schema: Sequence[str] = ()) -> tuple[Connection, str]:
    """A connection to the database ``name`` and its parameter placeholder (``?`` or
    ``%s``), after creating ``schema`` (``CREATE TABLE IF NOT EXISTS …`` statements)
    unless ``DEALREG_CREATE_TABLES`` is false."""
    conn: Connection
    if settings.uses_postgres:
        import psycopg

        where = schema_name(settings, name)
        if settings.create_tables:
            ensure_schema(settings.database_url, where)
        conn = psycopg.connect(settings.database_url, options=f"-c search_path={where}")
        placeholder = "%s"
    else:
        if settings.create_tables:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(settings.data_dir / f"{name}.sqlite", timeout=30,
                               check_same_thread=False)  # one user at a time
        placeholder = "?"
    if settings.create_tables:
        for statement in schema:
            conn.execute(statement)
        conn.commit()
    return conn, placeholder
