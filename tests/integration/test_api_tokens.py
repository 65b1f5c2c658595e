"""``dealreg tokens create|list|revoke`` on SQLite and PostgreSQL: a token is printed once
and only its SHA-256 is kept, the list never shows one, a revoked token no longer
authenticates, and what cannot be a token is refused in one line."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime

import psycopg
import pytest

from dealreg.api.tokens import TokenStore
from dealreg.cli import _parser
from dealreg.eventstore import schema_name
from dealreg.settings import Settings
from tests.support.cli import Ran, dealreg


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        settings: Settings, *argv: str) -> Ran:
    return dealreg(capsys, monkeypatch, settings, "tokens", *argv)


def stored_rows(settings: Settings) -> list[tuple[object, ...]]:
    """Every row of the tokens table, read with the database's own client."""
    query = "SELECT * FROM tokens ORDER BY name"
    if settings.uses_postgres:
        with psycopg.connect(settings.database_url) as conn:
            conn.execute(f"SET search_path TO {schema_name(settings, 'api')}")
            return list(conn.execute(query).fetchall())
    with sqlite3.connect(settings.data_dir / "api.sqlite") as lite:
        return list(lite.execute(query).fetchall())


def test_a_token_is_shown_once_and_only_its_hash_is_kept(
        settings: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    created = run(capsys, monkeypatch, settings, "create", "--role", "partner", "--partner",
                  "p-north", "--name", "northwind-portal")
    assert created.status == 0
    [token] = created.stdout.splitlines()
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert created.stderr.startswith("token 'northwind-portal' (partner p-north) "
                                     "created; it is shown once")
    ops = run(capsys, monkeypatch, settings, "create", "--role", "sales_ops", "--name",
              "ops-lead-1")
    assert ops.status == 0
    assert ops.stderr.startswith("token 'ops-lead-1' (role sales_ops) created")
    rows = stored_rows(settings)
    assert token not in repr(rows)
    assert hashlib.sha256(token.encode()).hexdigest() in [row[3] for row in rows]

    store = TokenStore.open(settings)
    holder = store.authenticate(token)
    assert holder is not None
    assert (holder.name, holder.role, holder.partner_id) == ("northwind-portal", "partner",
                                                             "p-north")
    assert store.authenticate(token + "x") is None

    listed = run(capsys, monkeypatch, settings, "list")
    assert token not in listed.stdout
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["name", "role", "partner", "created", "revoked"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["northwind-portal", "partner", "p-north"], ["ops-lead-1", "sales_ops", "-"]]
    created_at = datetime.fromisoformat(lines[1].split()[3])
    assert abs((datetime.now(UTC) - created_at).total_seconds()) < 60
    assert lines[1].split()[4] == "-"

    revoked = run(capsys, monkeypatch, settings, "revoke", "northwind-portal")
    assert revoked.status == 0
    assert store.authenticate(token) is None
    assert run(capsys, monkeypatch, settings, "list").stdout.splitlines()[1].split()[4] != "-"
    again = run(capsys, monkeypatch, settings, "revoke", "northwind-portal")
    assert (again.status, again.stderr.startswith(
        "dealreg: the token 'northwind-portal' was revoked already, at ")) == (1, True)


@pytest.mark.parametrize(("argv", "message"), [
    (["create", "--role", "partner", "--name", "p"],
     "dealreg: a partner token needs --partner PARTNER_ID: it sees only that partner's data"),
    (["create", "--role", "billing", "--partner", "p-1", "--name", "b"],
     "dealreg: a billing token is not a partner's: --partner is for the partner role only"),
    (["create", "--role", "auditor", "--name", "x" * 201],
     "dealreg: a token's name must be 1 to 200 characters, not only white space"),
    (["revoke", "nobody"], "dealreg: no token named 'nobody'"),
])
def test_what_cannot_be_a_token_is_refused_in_one_line(
        settings: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str) -> None:
    ran = run(capsys, monkeypatch, settings, *argv)
    assert (ran.status, ran.stdout, ran.stderr.splitlines()) == (1, "", [message])


def test_a_name_is_never_given_to_another_token(
        settings: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(capsys, monkeypatch, settings, "create", "--role", "auditor",
               "--name", "audit").status == 0
    assert run(capsys, monkeypatch, settings, "revoke", "audit").status == 0
    reused = run(capsys, monkeypatch, settings, "create", "--role", "auditor", "--name", "audit")
    assert reused.stderr.splitlines() == [
        "dealreg: a token named 'audit' exists already (names are never reused, even once "
        "revoked)"]


def test_a_role_is_one_of_the_apis(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["tokens", "create", "--role", "admin", "--name", "root"])
    assert "argument --role: invalid choice: 'admin'" in capsys.readouterr().err
