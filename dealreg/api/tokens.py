"""API tokens: who may call the HTTP API, in which role, for which partner.

``dealreg tokens create`` makes a random token (``secrets.token_urlsafe``), shows it once
and keeps only its SHA-256 hash, with the token's name, role, partner and creation time;
``revoke`` ends it. Tokens live in the database ``api`` beside the event stores (the SQLite
file ``api.sqlite`` in ``DEALREG_DATA_DIR``, or the schema ``<prefix>api`` of
``DEALREG_DATABASE_URL``). A token's name says who acted in the events it sends (a
resolution's ``resolved_by``), so a name is never given to another token, even once
revoked.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import psycopg

from dealreg.databases import Connection, connect
from dealreg.events.schemas.values import format_utc
from dealreg.settings import Settings

Role = Literal["sales_ops", "billing", "auditor", "program_ops", "partner"]
ROLES: tuple[Role, ...] = get_args(Role)
#: The longest token name: a name is the id of who acted (``resolved_by``, ``requested_by``).
NAME_LENGTH = 200

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
    "partner_id TEXT, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, "
    "revoked_at TEXT)",
)
_COLUMNS = "name, role, partner_id, created_at, revoked_at"


class TokenError(ValueError):
    """A token that cannot be created or revoked; the message says why, in one line."""


@dataclass(frozen=True)
class Token:
    """What is known of a token (never the token itself)."""

    name: str
    role: Role
    partner_id: str | None
    created_at: datetime
    revoked_at: datetime | None = None


def token_hash(token: str) -> str:
    """The SHA-256 of a token, as it is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenStore:
    """The tokens of the database ``api``; each operation opens a connection of its own,
    so the HTTP API's threads never share one."""

    settings: Settings

    @classmethod
    def open(cls, settings: Settings) -> TokenStore:
        """The store, its table created first when this process may
        (``DEALREG_CREATE_TABLES``)."""
        conn, _ = connect(settings, "api", SCHEMA)
        conn.close()
        return cls(settings.with_overrides(create_tables=False))

    @contextlib.contextmanager
    def _connection(self) -> Iterator[tuple[Connection, str]]:
        conn, placeholder = connect(self.settings, "api")
        try:
            yield conn, placeholder
        finally:
            conn.close()

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._connection() as (conn, placeholder):
            rows: list[Any] = conn.execute(statement.replace("%s", placeholder),
                                           tuple(params)).fetchall()
            conn.commit()
            return rows

    def create(self, name: str, role: str, partner_id: str | None, at: datetime) -> str:
        """A new token named ``name``, returned once: only its hash is kept."""
        _check(name, role, partner_id)
        if self.find(name) is not None:
            raise TokenError(f"a token named {name!r} exists already (names are never "
                             "reused, even once revoked)")
        token = secrets.token_urlsafe(32)
        try:
            self._rows("INSERT INTO tokens (name, role, partner_id, token_hash, created_at) "
                       "VALUES (%s, %s, %s, %s, %s) RETURNING name",
                       [name, role, partner_id, token_hash(token), format_utc(at)])
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            raise TokenError(f"a token named {name!r} exists already") from None
        return token

    def tokens(self) -> list[Token]:
        """Every token, revoked or not, in the order they were created."""
        return [_token(row) for row in self._rows(
            f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, name")]  # noqa: S608

    def find(self, name: str) -> Token | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM tokens WHERE name = %s",  # noqa: S608
                          [name])
        return _token(rows[0]) if rows else None

    def authenticate(self, token: str) -> Token | None:
        """The token's holder, or None when it is unknown or revoked."""
        rows = self._rows(f"SELECT {_COLUMNS} FROM tokens "  # noqa: S608
                          "WHERE token_hash = %s AND revoked_at IS NULL", [token_hash(token)])
        return _token(rows[0]) if rows else None

    def revoke(self, name: str, at: datetime) -> Token:
        """End the token named ``name`` from ``at``: the API refuses it from then on."""
        found = self.find(name)
        if found is None:
            raise TokenError(f"no token named {name!r}")
        if found.revoked_at is not None:
            raise TokenError(f"the token {name!r} was revoked already, at "
                             f"{format_utc(found.revoked_at)}")
        self._rows("UPDATE tokens SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL "
                   "RETURNING name", [format_utc(at), name])
        return Token(found.name, found.role, found.partner_id, found.created_at, at)


def _check(name: str, role: str, partner_id: str | None) -> None:
    if not name.strip() or len(name) > NAME_LENGTH:
        raise TokenError(f"a token's name must be 1 to {NAME_LENGTH} characters, not only "
                         "white space")
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if role == "partner" and not (partner_id and partner_id.strip()):
        raise TokenError("a partner token needs --partner PARTNER_ID: it sees only that "
                         "partner's data")
    if role != "partner" and partner_id is not None:
        raise TokenError(f"a {role} token is not a partner's: --partner is for the "
                         "partner role only")


def _token(row: Sequence[Any]) -> Token:
    name, role, partner_id, created_at, revoked_at = row
    return Token(name, role, partner_id, datetime.fromisoformat(created_at),
                 datetime.fromisoformat(revoked_at) if revoked_at else None)
