"""The ``dealreg`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TypeAlias, get_args

from dealreg import logs
from dealreg.api.tokens import ROLES
from dealreg.bootstrap import SERVICE_NAMES
from dealreg.cli import (
    actions,
    audit,
    database,
    kafka,
    operations,
    policy,
    projections,
    reports,
    tokens,
)
from dealreg.events.schemas.values import Program, Tier
from dealreg.settings import Settings, SettingsError

PROJECTION_NAMES = ("account_registry", "partner_metrics", "payout_ledger",
                    "partner_registrations")


def with_store(sub: argparse.ArgumentParser, *, json: bool = True) -> argparse.ArgumentParser:
    """The flags of a command that reads the event stores (``json``: and prints JSON on
    request)."""
    sub.add_argument("--store", metavar="URL", help="postgresql://… event store "
                     "(DEALREG_DATABASE_URL; default: SQLite files in DEALREG_DATA_DIR)")
    sub.add_argument("--data-dir", type=Path, help="SQLite directory (DEALREG_DATA_DIR)")
    sub.add_argument("--partitions", type=int,
                     help="partitions of topics created (DEALREG_PARTITIONS)")
    if json:
        sub.add_argument("--json", action="store_true", help="JSON output (tools)")
    return sub


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealreg",
        description="Partner deal registration backend. Every flag also has a DEALREG_* "
        "environment variable (see README).",
    )
    parser.add_argument("--kafka", metavar="HOST:PORT", help="Kafka bootstrap servers "
                        "(DEALREG_KAFKA_BOOTSTRAP; default: the local broker / 127.0.0.1:9092)")
    parser.add_argument("--topic-prefix", help="prefix of every topic (DEALREG_TOPIC_PREFIX)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING… (DEALREG_LOG_LEVEL)")
    parser.add_argument("--log-format", choices=("json", "text"),
                        help="log line format (DEALREG_LOG_FORMAT)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = with_store(commands.add_parser(
        "up", help="run all three services and the projections follower (starts the local "
        "broker unless --kafka or DEALREG_KAFKA_BOOTSTRAP is given)"))
    up.add_argument("--processes", action="store_true", default=None,
                    help="each service and the projections follower in a process of its own, "
                    "to use every core (DEALREG_UP_PROCESSES; default: one process)")
    _api_address(up)
    serve = with_store(commands.add_parser("serve", help="run one service (production)"))
    serve.add_argument("service", choices=SERVICE_NAMES)
    for running in (up, serve):
        operations.metrics_flag(running)
    with_store(commands.add_parser(
        "lag", help="per service and input partition: end offset, stored position, lag"))
    _api_address(with_store(commands.add_parser(
        "api", help="serve the HTTP API (docs/api.md): OpenAPI at /openapi.json, docs at "
        "/docs"), json=False))
    _token_commands(commands)

    topics = commands.add_parser("topics", help="manage the contract's topics")
    topics_commands = topics.add_subparsers(dest="topics_command", required=True)
    create = topics_commands.add_parser("create", help="create every missing contract topic")
    create.add_argument("--partitions", type=int, help="partitions (DEALREG_PARTITIONS)")

    publish = commands.add_parser(
        "publish", help="validate CloudEvents from a JSON-lines file and produce them")
    publish.add_argument("topic", help="contract topic name, e.g. registrations.requests.v1")
    publish.add_argument("file", help="JSON-lines file of CloudEvents, or - for stdin")

    expire = with_store(commands.add_parser(
        "expire-due", help="emit registration.expired for every window ended before --now"))
    expire.add_argument("--now", required=True, type=_timestamp, metavar="RFC3339",
                        help="the instant to expire at, e.g. 2026-05-01T00:00:00Z")

    disputes = commands.add_parser("disputes", help="sales ops: disputes and their decisions")
    disputes_commands = disputes.add_subparsers(dest="disputes_command", required=True)
    listing = with_store(disputes_commands.add_parser("list", help="every dispute"))
    listing.add_argument("--open", action="store_true", help="only open disputes")
    for name, summary in (("show", "the timeline of every fact and decision on the account"),
                          ("replay", "re-run the rules over the stored facts and compare")):
        command = with_store(disputes_commands.add_parser(name, help=summary))
        command.add_argument("dispute_id")
    _dispute_actions(disputes_commands)
    accounts = commands.add_parser("accounts", help="sales ops: who holds an account")
    accounts_commands = accounts.add_subparsers(dest="accounts_command", required=True)
    show = with_store(accounts_commands.add_parser(
        "show", help="who held the account at an instant, and why"))
    show.add_argument("account", metavar="ACCOUNT_KEY|DOMAIN")
    show.add_argument("--as-of", type=_timestamp, metavar="RFC3339",
                      help="the business instant (default: now)")

    payouts = commands.add_parser("payouts", help="billing: payouts and statements")
    payouts_commands = payouts.add_subparsers(dest="payouts_command", required=True)
    deal = with_store(payouts_commands.add_parser(
        "show", help="every payout event of a deal, with its basis and the facts behind it"))
    deal.add_argument("deal_id")
    recompute = with_store(payouts_commands.add_parser(
        "recompute", help="recompute every deal from the stored facts and list differences"))
    recompute.add_argument("--dry-run", action="store_true", required=True,
                           help="only compare (the only mode: corrections are automatic)")
    statement = with_store(payouts_commands.add_parser(
        "statement", help="a partner's payouts and adjustments between two dates"))
    statement.add_argument("partner_id")
    statement.add_argument("--from", dest="start", type=date.fromisoformat, required=True,
                           metavar="YYYY-MM-DD")
    statement.add_argument("--to", dest="end", type=date.fromisoformat, required=True,
                           metavar="YYYY-MM-DD")
    statement.add_argument("--csv", action="store_true", help="CSV output")
    _adjust_action(payouts_commands)

    projections = commands.add_parser("projections", help="read models: rebuild, status")
    projections_commands = projections.add_subparsers(dest="projections_command",
                                                      required=True)
    rebuild = with_store(projections_commands.add_parser(
        "rebuild", help="rebuild read models from the first event, with a progress bar"))
    rebuild.add_argument("name", nargs="?", choices=PROJECTION_NAMES,
                         help="one projection (default: all)")
    rebuild.add_argument("--follow", action="store_true",
                         help="then keep them up to date until Ctrl-C")
    with_store(projections_commands.add_parser(
        "status", help="how far each projection is behind each event store"))
    with_store(projections_commands.add_parser(
        "follow", help="keep every projection up to date until Ctrl-C (production)"))

    partners = commands.add_parser(
        "partners", help="sales ops: partner pipeline metrics; partner admins: enrollment, tiers")
    partners_commands = partners.add_subparsers(dest="partners_command", required=True)
    partner = with_store(partners_commands.add_parser(
        "show", help="a partner's registrations, wins, revenue and payouts"))
    partner.add_argument("partner_id")
    ranking = with_store(partners_commands.add_parser("top", help="partners ranked"))
    ranking.add_argument("--by", choices=("revenue", "win-rate", "time-to-first-deal"),
                         default="revenue")
    ranking.add_argument("--limit", type=int, default=10)
    ranking.add_argument("--currency", default="USD", help="revenue currency (default USD)")
    _partner_actions(partners_commands)

    _policy_commands(commands)

    audit = commands.add_parser("audit", help="auditors: history, verification, export")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    history = with_store(audit_commands.add_parser(
        "history", help="every stored event about a registration, deal, dispute or partner"))
    history.add_argument("id")
    with_store(audit_commands.add_parser(
        "verify", help="check every hash chain; exit 1 naming the first bad event"))
    export = with_store(audit_commands.add_parser(
        "export", help="every stored event with its hash, for external verification"))
    export.add_argument("--format", choices=("jsonl",), default="jsonl")
    export.add_argument("--output", metavar="FILE", help="write there (default: stdout)")

    database = commands.add_parser("db", help="operators: PostgreSQL set-up")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    init = with_store(database_commands.add_parser(
        "init", help="create schemas, tables and an append-only service role (run as the "
        "database owner; the role's password from DEALREG_SERVICE_DB_PASSWORD)"))
    init.add_argument("--role", default="dealreg_service", help="the services' login role")

    tail = commands.add_parser("tail", help="print a topic's events as JSON lines")
    tail.add_argument("topic", help="contract topic name, e.g. registrations.v1")
    tail.add_argument("--from-beginning", action="store_true",
                      help="start at the oldest event (default: only new ones)")
    tail.add_argument("--idle-exit", type=float, metavar="SECONDS",
                      help="exit after this long without a new event (default: run until Ctrl-C)")
    return parser


#: A group of subcommands (``add_subparsers``).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _at(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--at", type=_timestamp, metavar="RFC3339",
                         help=f"when {what}, e.g. 2026-03-10T09:00:00Z (default: now)")


def _dispute_actions(disputes_commands: Commands) -> None:
    resolve = with_store(disputes_commands.add_parser(
        "resolve", help="send dispute.resolved: give the account to a registration of the "
        "dispute or to the direct team"), json=False)
    resolve.add_argument("dispute_id", metavar="DISPUTE_ID", type=actions.said)
    winner = resolve.add_mutually_exclusive_group(required=True)
    winner.add_argument("--winner", metavar="REGISTRATION_ID", type=actions.said,
                        help="the registration that wins the account")
    winner.add_argument("--direct", action="store_true",
                        help="the direct sales team wins the account")
    resolve.add_argument("--by", required=True, type=actions.said, metavar="NAME",
                         help="who decided")
    resolve.add_argument("--rationale", required=True, type=actions.said, metavar="TEXT",
                         help="why, in words")
    _at(resolve, "it was decided")
    resolve.set_defaults(outgoing=actions.resolve)
    raising = disputes_commands.add_parser(
        "raise", help="send dispute.raised: a partner disputes the registration that beat "
        "its own")
    raising.add_argument("registration_id", metavar="REGISTRATION_ID", type=actions.said,
                         help="the partner's registration, denied for a conflict")
    raising.add_argument("--evidence", required=True, type=actions.said, metavar="TEXT",
                         help="the partner's case, in words")
    _at(raising, "it was raised")
    raising.set_defaults(outgoing=actions.raise_dispute)


def _adjust_action(payouts_commands: Commands) -> None:
    adjust = payouts_commands.add_parser(
        "adjust", help="send payout.adjustment_requested: pay a partner more, or less, by hand")
    adjust.add_argument("deal_id", metavar="DEAL_ID", type=actions.said)
    adjust.add_argument("partner_id", metavar="PARTNER_ID", type=actions.said)
    adjust.add_argument("amount", type=actions.amount, metavar="AMOUNT",
                        help="e.g. 150.00; negative takes money back (not zero)")
    adjust.add_argument("currency", type=actions.currency, metavar="CURRENCY",
                        help="ISO 4217 code, the deal's currency, e.g. EUR")
    adjust.add_argument("--reason", required=True, type=actions.said, metavar="TEXT",
                        help="why, in words")
    adjust.add_argument("--by", required=True, type=actions.said, metavar="NAME",
                        help="who asks")
    _at(adjust, "it was asked for")
    adjust.set_defaults(outgoing=actions.adjust)


def _partner_actions(partners_commands: Commands) -> None:
    enroll = partners_commands.add_parser(
        "enroll", help="send partner.enrolled: a partner joins a program")
    enroll.add_argument("partner_id", metavar="PARTNER_ID", type=actions.said)
    enroll.add_argument("--name", required=True, type=actions.said, metavar="NAME",
                        help="the partner's name")
    enroll.add_argument("--program", required=True, choices=get_args(Program))
    enroll.add_argument("--tier", required=True, choices=get_args(Tier))
    _at(enroll, "it may register deals from")
    enroll.set_defaults(outgoing=actions.enroll)
    tier = partners_commands.add_parser(
        "tier", help="send partner.tier_changed: a partner's new tier from an instant")
    tier.add_argument("partner_id", metavar="PARTNER_ID", type=actions.said)
    tier.add_argument("tier", choices=get_args(Tier), help="the new tier")
    tier.add_argument("--effective", required=True, type=_timestamp, metavar="RFC3339",
                      help="from when; may be in the past (deals closed since are recomputed)")
    tier.set_defaults(outgoing=actions.change_tier)


def _api_address(command: argparse.ArgumentParser) -> None:
    command.add_argument("--api-host", metavar="ADDRESS", help="address the HTTP API listens "
                         "on (DEALREG_API_HOST; default 127.0.0.1: this machine only)")
    command.add_argument("--api-port", type=int, metavar="PORT",
                         help="port of the HTTP API (DEALREG_API_PORT; default 8080)")


def _token_commands(commands: Commands) -> None:
    tokens = commands.add_parser("tokens", help="operators: the HTTP API's bearer tokens")
    tokens_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    create = with_store(tokens_commands.add_parser(
        "create", help="make a token and print it once (only its hash is kept)"), json=False)
    create.add_argument("--role", required=True, choices=ROLES,
                        help="what the token may call (docs/api.md)")
    create.add_argument("--partner", metavar="PARTNER_ID", type=actions.said,
                        help="the partner of a partner token: it sees only that partner's data")
    create.add_argument("--name", required=True, type=actions.said, metavar="NAME",
                        help="who holds it; names the holder in the events it sends "
                        "(resolved_by, requested_by) and is never reused")
    with_store(tokens_commands.add_parser(
        "list", help="every token: name, role, partner, created, revoked (never the token)"),
        json=False)
    revoke = with_store(tokens_commands.add_parser(
        "revoke", help="end a token: the API refuses it from now on"), json=False)
    revoke.add_argument("name", metavar="NAME")


def _policy_commands(commands: Commands) -> None:
    policy = commands.add_parser("policy", help="billing: the program policy and what a new "
                                 "one would change")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    show = with_store(policy_commands.add_parser(
        "show", help="the policy in force at an instant, every field"))
    show.add_argument("--at", type=_timestamp, metavar="RFC3339",
                      help="the business instant (default: now)")
    simulate = with_store(policy_commands.add_parser(
        "simulate", help="what publishing a policy.published file would change in the "
        "payouts, without publishing it"))
    simulate.add_argument("file", help="JSON-lines file of one policy.published CloudEvent, "
                          "as dealreg publish program.v1 takes it (- for stdin)")


def _timestamp(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 timestamp: {text!r}") from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"the timestamp needs an offset or Z: {text!r}")
    return instant


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().with_overrides(
        kafka_bootstrap=args.kafka,
        topic_prefix=args.topic_prefix,
        log_level=args.log_level,
        log_format=args.log_format,
        database_url=getattr(args, "store", None),
        data_dir=getattr(args, "data_dir", None),
        partitions=getattr(args, "partitions", None),
        up_processes=getattr(args, "processes", None),
        api_host=getattr(args, "api_host", None),
        api_port=getattr(args, "api_port", None),
        metrics_port=getattr(args, "metrics_port", None),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as error:
        print(f"dealreg: configuration error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    # a client command explains a broker out of reach in one line (below), without the
    # client library's own error lines; the services (up, serve) keep them
    client = args.command not in ("up", "serve", "api")
    try:
        with logs.quiet("aiokafka") if client else contextlib.nullcontext():
            return asyncio.run(_run(args, settings))
    except KeyboardInterrupt:
        return 130
    except actions.EXPECTED as error:  # a store or broker out of reach, a refusal
        return actions.fail(actions.explain(error, settings))
    except BrokenPipeError:  # the reader went away (``dealreg … | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "outgoing", None) is not None:
        return await actions.send(args, settings)
    match args.command:
        case "up":
            return await operations.up(settings)
        case "serve":
            return await operations.serve(settings, args.service)
        case "api":
            return await operations.api(settings)
        case "lag":
            return await operations.lag(settings, as_json=args.json)
        case "tokens":
            return await tokens.run_tokens(args, settings)
        case "expire-due":
            expired = await operations.expire_due_now(settings, args.now)
            for registration_id in expired:
                print(registration_id)
            print(f"{len(expired)} registration(s) expired", file=sys.stderr)
            return 0
        case "disputes" | "accounts":
            return await reports.run_salesops(args, settings)
        case "payouts":
            return await reports.run_payouts(args, settings)
        case "projections":
            return await projections.run_projections(args, settings)
        case "partners":
            return await projections.run_partners(args, settings)
        case "policy":
            return await policy.run_policy(args, settings)
        case "audit":
            return await audit.run_audit(args, settings)
        case "db":
            return await database.run_db(args, settings)
        case "topics":
            return await kafka.create_topics(settings)
        case "publish":
            return await kafka.publish_file(settings, args.topic, args.file)
        case "tail":
            return await kafka.tail(settings, args.topic, from_beginning=args.from_beginning,
                                    idle_exit_s=args.idle_exit)
    raise AssertionError(args.command)
