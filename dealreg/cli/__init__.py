"""The ``dealreg`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from dealreg import logs
from dealreg.bootstrap import SERVICE_NAMES
from dealreg.cli import audit, database, kafka, operations, projections, reports
from dealreg.settings import Settings, SettingsError

PROJECTION_NAMES = ("account_registry", "partner_metrics", "payout_ledger")


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

    def with_store(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--store", metavar="URL", help="postgresql://… event store "
                         "(DEALREG_DATABASE_URL; default: SQLite files in DEALREG_DATA_DIR)")
        sub.add_argument("--data-dir", type=Path, help="SQLite directory (DEALREG_DATA_DIR)")
        sub.add_argument("--partitions", type=int,
                         help="partitions of topics created (DEALREG_PARTITIONS)")
        sub.add_argument("--json", action="store_true", help="JSON output (tools)")
        return sub

    up = with_store(commands.add_parser(
        "up", help="run all three services and the projections follower (starts the local "
        "broker unless --kafka or DEALREG_KAFKA_BOOTSTRAP is given)"))
    up.add_argument("--processes", action="store_true", default=None,
                    help="each service and the projections follower in a process of its own, "
                    "to use every core (DEALREG_UP_PROCESSES; default: one process)")
    serve = with_store(commands.add_parser("serve", help="run one service (production)"))
    serve.add_argument("service", choices=SERVICE_NAMES)

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

    partners = commands.add_parser("partners", help="sales ops: partner pipeline metrics")
    partners_commands = partners.add_subparsers(dest="partners_command", required=True)
    partner = with_store(partners_commands.add_parser(
        "show", help="a partner's registrations, wins, revenue and payouts"))
    partner.add_argument("partner_id")
    ranking = with_store(partners_commands.add_parser("top", help="partners ranked"))
    ranking.add_argument("--by", choices=("revenue", "win-rate", "time-to-first-deal"),
                         default="revenue")
    ranking.add_argument("--limit", type=int, default=10)
    ranking.add_argument("--currency", default="USD", help="revenue currency (default USD)")

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
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as error:
        print(f"dealreg: configuration error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        return asyncio.run(_run(args, settings))
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    match args.command:
        case "up":
            await operations.up(settings)
            return 0
        case "serve":
            await operations.serve(settings, args.service)
            return 0
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
