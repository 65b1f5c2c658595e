"""``dealreg tokens create|list|revoke``: the HTTP API's bearer tokens (docs/api.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from dealreg.actions import now
from dealreg.api.tokens import Token, TokenError, TokenStore
from dealreg.cli.actions import fail
from dealreg.cli.stores import require
from dealreg.events.schemas.values import format_utc
from dealreg.settings import Settings


async def run_tokens(args: argparse.Namespace, settings: Settings) -> int:
    return await asyncio.to_thread(_run, args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    reading = args.tokens_command == "list"  # only reads: creates nothing
    store = TokenStore.open(require(settings, "api", "token store", "`dealreg tokens create` "
                                    "makes the first token") if reading else settings)
    try:
        if args.tokens_command == "create":
            token = store.create(args.name, args.role, args.partner, now())
            print(token)
            who = f"partner {args.partner}" if args.partner else f"role {args.role}"
            print(f"token {args.name!r} ({who}) created; it is shown once, "
                  "only its hash is kept: send it as Authorization: Bearer TOKEN",
                  file=sys.stderr)
        elif args.tokens_command == "list":
            print(f"{'name':<24} {'role':<12} {'partner':<16} {'created':<21} revoked")
            for found in store.tokens():
                print(_line(found))
        else:
            revoked = store.revoke(args.name, now())
            print(f"token {revoked.name!r} revoked: the API refuses it from now on",
                  file=sys.stderr)
    except TokenError as refused:
        return fail(str(refused))
    return 0


def _line(token: Token) -> str:
    revoked = format_utc(token.revoked_at) if token.revoked_at else "-"
    return (f"{token.name:<24} {token.role:<12} {token.partner_id or '-':<16} "
            f"{format_utc(token.created_at):<21} {revoked}")
