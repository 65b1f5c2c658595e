"""Event recorders that keep history append-only and hash-chained (see ``docs/auditors.md``).

Each application's events table gets, in the same transaction as every insert, a row in
``<events table>_hashes``: ``SHA-256(previous hash ‖ canonical bytes of the event)``
(:func:`dealreg.audit_chain.link`), so that any later change, removal or reordering of a
stored event breaks the chain. Triggers refuse UPDATE, DELETE and TRUNCATE on both tables,
whoever the user, table owner included.

PostgreSQL computes the hash in an ``AFTER INSERT`` trigger (a ``SECURITY DEFINER`` function,
so the services' role needs no privilege on the hashes table), and inserting transactions
are serialised by a transaction-level advisory lock instead of eventsourcing's ``LOCK TABLE
… IN EXCLUSIVE MODE``: the lock mode needs UPDATE, DELETE or TRUNCATE privilege, which the
services' role must not have (``dealreg db init``). The advisory lock gives the same
guarantee (insert order equals commit order, for readers tailing the log) as long as every
writer goes through this recorder. SQLite serialises writers itself; the hash is computed
in Python in the inserting transaction.

Both take several tracking records in one transaction (``trackings=`` beside
eventsourcing's ``tracking=``, or :meth:`insert_trackings` alone): a consumer's poll stores
the position of every partition it read with the events those records caused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Literal

from dealreg.audit_chain import GENESIS, link

APPEND_ONLY = "dealreg: stored events are append-only"
#: (position, aggregate id, version) of a stored event
Change = tuple[int, UUID, int]


class ChainedPostgresProcessRecorder(PostgresProcessRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events",
                 tracking_table_name: str = "notification_tracking") -> None:
        super().__init__(datastore, events_table_name=events_table_name,
                         tracking_table_name=tracking_table_name)
        self.hashes_table_name = f"{events_table_name}_hashes"
        schema = Identifier(datastore.schema)
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock(hashtext({0}))").format(
                Literal(f"{datastore.schema}.{events_table_name}")),
        ]
        self.sql_create_statements.extend(self._chain_statements(schema))
        self.select_hashes_statement = SQL(
            "SELECT notification_id, hash FROM {0}.{1} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s").format(schema, Identifier(self.hashes_table_name))
        self.select_aggregate_ids_statement = SQL(
            "SELECT originator_id FROM {0}.{1} WHERE originator_version = 1").format(
            schema, Identifier(events_table_name))
        self.select_changes_statement = SQL(
            "SELECT notification_id, originator_id, originator_version FROM {0}.{1} "
            "WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s").format(schema, Identifier(events_table_name))
        self.insert_event_columns_statement = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id").format(schema, Identifier(events_table_name))
        self.select_events_of_statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version").format(
            schema, Identifier(events_table_name))
        self.select_positions_statement = SQL(
            "SELECT application_name, MAX(notification_id) AS position FROM {0}.{1} "
            "WHERE application_name = ANY(%s) GROUP BY application_name").format(
            schema, Identifier(tracking_table_name))

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking)

    def insert_trackings(self, trackings: Sequence[Tracking]) -> None:
        """Store several positions in one transaction (all or none)."""
        with self.datastore.transaction(commit=True) as curs:
            for tracking in trackings:
                self._insert_tracking(curs, tracking)

    def insert_tracking_unflushed(self, tracking: Tracking) -> None:
        """Store a position without waiting for its commit to reach the disk
        (``synchronous_commit`` off for this transaction alone): for a position whose loss
        in a crash of the database costs only work done again (the outbox's)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("SET LOCAL synchronous_commit = off"))
            self._insert_tracking(curs, tracking)

    def select_positions(self, names: Sequence[str]) -> dict[str, int]:
        """The stored position of each of ``names`` that has one (one query for a poll)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_positions_statement, (list(names),), prepare=True)
            return {row["application_name"]: row["position"] for row in curs.fetchall()}

    def _insert_stored_events(self, curs: Cursor[DictRow],
                              stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """eventsourcing's insert, with the events sent as four arrays in binary instead of
        one array of composites that psycopg dumps as text in Python (about five times
        faster for a batch of 500 events), and without its ``NOTIFY``: nothing in dealreg
        listens (the outbox and the projections read the log), and PostgreSQL serialises
        the commits of all notifying transactions of a database on one lock."""
        self._lock_table(curs)
        curs.execute(self.insert_event_columns_statement, [
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        ])

    def _chain_statements(self, schema: Identifier) -> list[Composed]:
        hashes = Identifier(self.hashes_table_name)
        chain_fn = Identifier(f"{self.events_table_name}_chain")
        refuse_fn = Identifier("dealreg_refuse_change")
        names = {"schema": schema, "hashes": hashes, "chain_fn": chain_fn,
                 "refuse_fn": refuse_fn, "genesis": Literal(GENESIS),
                 "message": Literal(APPEND_ONLY)}
        statements = [
            "CREATE TABLE IF NOT EXISTS {schema}.{hashes} ("
            "notification_id bigint PRIMARY KEY, hash bytea NOT NULL)",
            "CREATE OR REPLACE FUNCTION {schema}.{refuse_fn}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION USING MESSAGE = {message} || ': ' || TG_OP || ' on ' || "
            "TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, ERRCODE = 'insufficient_privilege'; "
            "END $$",
            "CREATE OR REPLACE FUNCTION {schema}.{chain_fn}() RETURNS trigger "
            "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$ "
            "DECLARE previous bytea; topic bytea := convert_to(NEW.topic, 'UTF8'); BEGIN "
            "SELECT h.hash INTO previous FROM {schema}.{hashes} h "
            "ORDER BY h.notification_id DESC LIMIT 1; "
            "INSERT INTO {schema}.{hashes} (notification_id, hash) VALUES ("
            "NEW.notification_id, sha256(coalesce(previous, {genesis}) "
            "|| int8send(NEW.notification_id) || uuid_send(NEW.originator_id) "
            "|| int8send(NEW.originator_version) || int4send(octet_length(topic)) || topic "
            "|| NEW.state)); "
            "RETURN NULL; END $$",
        ]
        events_name, hashes_name = self.events_table_name, self.hashes_table_name
        triggers = [
            ("chain", events_name, "AFTER INSERT", "ROW", chain_fn),
            ("refuse_change", events_name, "BEFORE UPDATE OR DELETE", "ROW", refuse_fn),
            ("refuse_truncate", events_name, "BEFORE TRUNCATE", "STATEMENT", refuse_fn),
            ("refuse_change", hashes_name, "BEFORE UPDATE OR DELETE", "ROW", refuse_fn),
            ("refuse_truncate", hashes_name, "BEFORE TRUNCATE", "STATEMENT", refuse_fn),
        ]
        composed = [SQL(statement).format(**names) for statement in statements]
        for name, table, when, level, function in triggers:
            trigger = f"dealreg_{name}"
            composed.append(SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = {name} "
                "AND tgrelid = {relation}::regclass) THEN CREATE TRIGGER {trigger} "
                "{when} ON {schema}.{table} FOR EACH {level} "
                "EXECUTE FUNCTION {schema}.{function}(); END IF; END $$"
            ).format(name=Literal(trigger), trigger=Identifier(trigger), schema=schema,
                     when=SQL(when), level=SQL(level),
                     table=Identifier(table), function=function,
                     relation=Literal(f'"{self.datastore.schema}"."{table}"')))
        return composed

    def select_aggregate_ids(self) -> list[UUID]:
        """The id of every aggregate stored (each has exactly one version 1)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_aggregate_ids_statement)
            return [UUID(str(row["originator_id"])) for row in curs.fetchall()]

    def select_changes(self, after: int, until: int, limit: int) -> list[Change]:
        """(position, aggregate, version) of the events stored in (after, until]."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_changes_statement, (after, until, limit), prepare=True)
            return [(row["notification_id"], UUID(str(row["originator_id"])),
                     row["originator_version"]) for row in curs.fetchall()]

    def select_hashes(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_hashes_statement, (after, limit), prepare=True)
            return [(row["notification_id"], bytes(row["hash"])) for row in curs.fetchall()]

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of the given aggregates, by aggregate then version (one index
        scan for a batch's aggregates, instead of one query each)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_events_of_statement, (list(originator_ids),),
                         prepare=True)
            return [StoredEvent(originator_id=row["originator_id"],
                                originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"]))
                    for row in curs.fetchall()]


class ChainedSQLiteProcessRecorder(SQLiteProcessRecorder):
    def __init__(self, datastore: SQLiteDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        hashes = self.hashes_table_name = f"{events_table_name}_hashes"
        # Table names are ours (from the application's name), never input.
        self.last_hash_statement = (
            f"SELECT hash FROM {hashes} ORDER BY notification_id DESC LIMIT 1")  # noqa: S608
        self.insert_hash_statement = (
            f"INSERT INTO {hashes} (notification_id, hash) VALUES (?, ?)")  # noqa: S608
        self.select_hashes_statement = (
            f"SELECT notification_id, hash FROM {hashes} "  # noqa: S608
            "WHERE notification_id > ? ORDER BY notification_id LIMIT ?")
        self.select_aggregate_ids_statement = (
            f"SELECT originator_id FROM {events_table_name} "  # noqa: S608
            "WHERE originator_version = 1")
        self.select_changes_statement = (
            f"SELECT rowid, originator_id, originator_version FROM {events_table_name} "  # noqa: S608
            "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?")
        self.select_events_of_statement = (
            f"SELECT originator_id, originator_version, topic, state FROM {events_table_name} "  # noqa: S608
            "WHERE originator_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY originator_id, originator_version")
        self.select_positions_statement = (
            "SELECT application_name, MAX(notification_id) FROM tracking "
            "WHERE application_name IN (SELECT value FROM json_each(?)) "
            "GROUP BY application_name")
        super().__init__(datastore, events_table_name=events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        events, hashes = self.events_table_name, self.hashes_table_name
        statements = [*super().construct_create_table_statements(),
                      f"CREATE TABLE IF NOT EXISTS {hashes} ("
                      "notification_id INTEGER PRIMARY KEY, hash BLOB NOT NULL)"]
        for table in (events, hashes):
            statements.extend(
                f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_{operation.lower()} "
                f"BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {operation} on {table}'); END"
                for operation in ("UPDATE", "DELETE"))
        return statements

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        assert notification_ids is not None
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(c, tracking)
        c.execute(self.last_hash_statement)
        row = c.fetchone()
        previous = bytes(row[0]) if row else GENESIS
        for notification_id, stored in zip(notification_ids, stored_events, strict=True):
            previous = link(previous, notification_id, stored)
            c.execute(self.insert_hash_statement, (notification_id, previous))
        return notification_ids

    def insert_trackings(self, trackings: Sequence[Tracking]) -> None:
        """Store several positions in one transaction (all or none)."""
        with self.datastore.transaction(commit=True) as c:
            for tracking in trackings:
                self._insert_tracking(c, tracking)

    def select_positions(self, names: Sequence[str]) -> dict[str, int]:
        """The stored position of each of ``names`` that has one (one query for a poll)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_positions_statement, (json.dumps(list(names)),))
            return {row[0]: row[1] for row in c.fetchall()}

    def select_aggregate_ids(self) -> list[UUID]:
        """The id of every aggregate stored (each has exactly one version 1)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_aggregate_ids_statement)
            return [UUID(row[0]) for row in c.fetchall()]

    def select_changes(self, after: int, until: int, limit: int) -> list[Change]:
        """(position, aggregate, version) of the events stored in (after, until]."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_changes_statement, (after, until, limit))
            return [(row[0], UUID(row[1]), row[2]) for row in c.fetchall()]

    def select_hashes(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_hashes_statement, (after, limit))
            return [(row[0], bytes(row[1])) for row in c.fetchall()]

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of the given aggregates, by aggregate then version."""
        ids = json.dumps([originator_id.hex for originator_id in originator_ids])  # as stored
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_events_of_statement, (ids,))
            return [StoredEvent(originator_id=UUID(row[0]), originator_version=row[1],
                                topic=row[2], state=row[3]) for row in c.fetchall()]


ChainedRecorder = ChainedPostgresProcessRecorder | ChainedSQLiteProcessRecorder
