"""Where read models live: one JSON document per (projection, key), with the position reached
in each source log, written in one transaction so that a projection resumes exactly where it
stopped. SQLite file ``projections.sqlite`` beside the services' files, or the PostgreSQL
schema ``<DEALREG_DB_SCHEMA_PREFIX>projections`` beside theirs.

Documents are JSON with money as decimal strings (never floats).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dealreg.databases import Connection, connect
from dealreg.settings import Settings

Document = dict[str, Any]
CHUNK = 500

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS read_models (projection TEXT NOT NULL, key TEXT NOT NULL, "
    "doc TEXT NOT NULL, PRIMARY KEY (projection, key))",
    "CREATE TABLE IF NOT EXISTS positions (projection TEXT NOT NULL, source TEXT NOT NULL, "
    "position BIGINT NOT NULL, PRIMARY KEY (projection, source))",
)


_ENCODER = json.JSONEncoder(sort_keys=True)  # json.dumps(…, sort_keys=True) makes one a call


def encoded(doc: Document) -> str:
    """A document as stored."""
    return _ENCODER.encode(doc)


@dataclass
class ReadStore:
    conn: Connection
    placeholder: str

    @classmethod
    def open(cls, settings: Settings) -> ReadStore:
        return cls(*connect(settings, "projections", SCHEMA))

    def close(self) -> None:
        self.conn.close()

    def _sql(self, statement: str) -> str:
        return statement.replace("%s", self.placeholder)

    def _rows(self, statement: str, params: Iterable[Any]) -> list[Any]:
        rows: list[Any] = self.conn.execute(self._sql(statement), tuple(params)).fetchall()
        self.conn.commit()  # end the read transaction (PostgreSQL holds one open otherwise)
        return rows

    def load(self, projection: str, keys: Iterable[str]) -> dict[str, Document]:
        """The stored documents of ``keys`` (absent keys are left out)."""
        wanted = sorted(set(keys))
        found: dict[str, Document] = {}
        if self.placeholder == "%s":  # PostgreSQL: one index scan for the whole page
            rows = self._rows("SELECT key, doc FROM read_models WHERE projection = %s "
                              "AND key = ANY(%s)", [projection, wanted])
            return {key: json.loads(doc) for key, doc in rows}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            query = ("SELECT key, doc FROM read_models WHERE projection = %s "  # noqa: S608
                     f"AND key IN ({marks})")
            rows = self._rows(query, [projection, *chunk])
            found.update((key, json.loads(doc)) for key, doc in rows)
        return found

    def documents(self, projection: str, prefix: str = "") -> Iterator[tuple[str, Document]]:
        """Every document of ``projection`` whose key starts with ``prefix``, by key."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._rows("SELECT key, doc FROM read_models WHERE projection = %s "
                          "AND key LIKE %s ESCAPE '\\' ORDER BY key", [projection, pattern])
        for key, doc in rows:
            yield key, json.loads(doc)

    def positions(self, projection: str) -> dict[str, int]:
        rows = self._rows("SELECT source, position FROM positions WHERE projection = %s",
                          [projection])
        return {source: int(position) for source, position in rows}

    def save(self, source: str, position: int, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Store the documents of each projection in ``changes`` (as :func:`encoded`) and the
        position each reached in ``source``, together or not at all."""
        docs = [(projection, key, doc)
                for projection, documents in changes.items() for key, doc in documents.items()]
        try:
            if self.placeholder == "%s":  # PostgreSQL: one statement, the rows as arrays
                if docs:
                    self.conn.execute(
                        "INSERT INTO read_models (projection, key, doc) "
                        "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[]) "
                        "ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc",
                        [list(column) for column in zip(*docs, strict=True)])
            else:
                self.conn.cursor().executemany(
                    "INSERT INTO read_models (projection, key, doc) VALUES (?, ?, ?) "
                    "ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc", docs)
            self.conn.cursor().executemany(self._sql(
                "INSERT INTO positions (projection, source, position) VALUES (%s, %s, %s) "
                "ON CONFLICT (projection, source) DO UPDATE SET position = excluded.position"),
                [(projection, source, position) for projection in changes])
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    def reset(self, projection: str) -> None:
        """Forget a projection: its documents and positions (before a rebuild)."""
        for table in ("read_models", "positions"):
            self.conn.execute(self._sql(
                f"DELETE FROM {table} WHERE projection = %s"), (projection,))  # noqa: S608
        self.conn.commit()
