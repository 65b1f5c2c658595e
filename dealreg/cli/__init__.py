"""The ``dealreg`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import get_args

from dealreg import logs
from dealreg.api.tokens import ROLES
from dealreg.bootstrap import SERVICE_NAMES
from dealreg.cli import (
    actions,
    audit,
    broker,
    database,
    dlq,
    examples,
    kafka,
    operations,
    policy,
    projections,
    reports,
    tokens,
)
from dealreg.cli.flags import (
    REPORT,
    SENDS,
    SERVICE,
    Commands,
    command,
    json_flag,
    kafka_flags,
    log_flags,
    partitions_flag,
    store_flags,
)
from dealreg.cli.times import instant, instant_or_day
from dealreg.events.schemas.values import Program, Tier
from dealreg.settings import Settings, SettingsError

PROJECTION_NAMES = ("account_registry", "partner_metrics", "payout_ledger",
                    "partner_registrations")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealreg",
        description="Partner deal registration backend. Every flag also has a DEALREG_* "
        "environment variable (see README); --kafka, --topic-prefix, --log-level and "
        "--log-format may come before the command or after it.",
    )
    kafka_flags(parser)
    log_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = command(commands, "up", "run all three services, the projections follower and "
                  "the HTTP API (starts the bundled broker unless --kafka or "
                  "DEALREG_KAFKA_BOOTSTRAP is given)", *SERVICE)
    up.add_argument("--processes", action="store_true", default=None,
                    help="each service and the projections follower in a process of its own, "
                    "to use every core (DEALREG_UP_PROCESSES; default: one process)")
    _api_address(up)
    serve = command(commands, "serve", "run one service (production; or one at a time "
                     "beside `dealreg broker`)", *SERVICE)
    serve.add_argument("service", choices=SERVICE_NAMES)
    broker.add_command(command(commands, "broker", broker.SUMMARY, log_flags))
    _api_address(command(commands, "api", "serve the HTTP API (docs/api.md): OpenAPI at "
                          "/openapi.json, docs at /docs", kafka_flags, log_flags, store_flags))
    for running in (up, serve):
        operations.metrics_flag(running)
    command(commands, "lag", "per service and input partition: end offset, stored position, "
            "lag", kafka_flags, store_flags, json_flag)
    _token_commands(commands)

    topics = commands.add_parser("topics", help="manage the contract's topics")
    topics_commands = topics.add_subparsers(dest="topics_command", required=True)
    command(topics_commands, "create", "create every missing contract topic", kafka_flags,
             partitions_flag)

    publish = command(commands, "publish", "validate CloudEvents from a JSON-lines file "
                       "and produce them", *SENDS)
    publish.add_argument("topic", help="contract topic name, e.g. registrations.requests.v1")
    publish.add_argument("file", help="JSON-lines file of CloudEvents, or - for stdin")

    expire = command(commands, "expire-due", "emit registration.expired for every window "
                      "ended before --now", kafka_flags, store_flags)
    expire.add_argument("--now", required=True, type=instant, metavar="RFC3339",
                        help="the instant to expire at, e.g. 2026-05-01T00:00:00Z")
    expire.add_argument("--force", action="store_true",
                        help="expire at a --now in the future (ends live registrations early)")

    disputes = commands.add_parser("disputes", help="sales ops: disputes and their decisions")
    disputes_commands = disputes.add_subparsers(dest="disputes_command", required=True)
    listing = command(disputes_commands, "list", "every dispute, oldest first", *REPORT)
    listing.add_argument("--open", action="store_true", help="only open disputes")
    for name, summary in (("show", "the dispute: its parties, the rule, its status, the "
                                   "parties' case and its timeline"),
                          ("replay", "re-run the rules over the stored facts and compare")):
        command(disputes_commands, name, summary, *REPORT).add_argument("dispute_id")
    _dispute_actions(disputes_commands)
    accounts = commands.add_parser("accounts", help="sales ops: who holds an account")
    accounts_commands = accounts.add_subparsers(dest="accounts_command", required=True)
    show = command(accounts_commands, "show", "who held the account at an instant, and why",
                    *REPORT)
    show.add_argument("account", metavar="ACCOUNT_KEY|DOMAIN|COMPANY",
                      help="an account key (domain:…, name:…), a domain, or a company name "
                      "with --country")
    show.add_argument("--country", metavar="CC", help="the country (ISO 3166 alpha-2) of a "
                      "company name: an account without a domain is its name and country")
    show.add_argument("--as-of", type=instant_or_day, metavar="RFC3339|YYYY-MM-DD",
                      help="the business instant; a date means 00:00 UTC that day "
                      "(default: now)")

    payouts = commands.add_parser("payouts", help="billing: payouts and statements")
    payouts_commands = payouts.add_subparsers(dest="payouts_command", required=True)
    command(payouts_commands, "show", "every payout event of a deal, with its basis and "
             "the facts behind it", *REPORT).add_argument("deal_id")
    recompute = command(payouts_commands, "recompute", "recompute every deal from the "
                         "stored facts and list differences (a preview: it changes nothing, "
                         "the service corrects by itself)", *REPORT)
    recompute.add_argument("--dry-run", action="store_true",
                           help="accepted for clarity: recompute only ever compares")
    statement = command(payouts_commands, "statement", "a partner's payouts and adjustments "
                         "between two dates", store_flags, json_flag)
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
    rebuild = command(projections_commands, "rebuild", "rebuild read models from the first "
                       "event, with a progress bar", store_flags, log_flags)
    rebuild.add_argument("name", nargs="?", choices=PROJECTION_NAMES,
                         help="one projection (default: all)")
    rebuild.add_argument("--follow", action="store_true",
                         help="then keep them up to date until Ctrl-C")
    command(projections_commands, "status", "how far each projection is behind each event "
             "store", store_flags)
    command(projections_commands, "follow", "keep every projection up to date until Ctrl-C "
             "(production)", store_flags, log_flags)

    partners = commands.add_parser(
        "partners", help="sales ops: partner pipeline metrics; partner admins: enrollment, tiers")
    partners_commands = partners.add_subparsers(dest="partners_command", required=True)
    command(partners_commands, "show", "a partner's registrations, wins, revenue and "
             "payouts", *REPORT).add_argument("partner_id")
    ranking = command(partners_commands, "top", "partners ranked", *REPORT)
    ranking.add_argument("--by", choices=("revenue", "win-rate", "time-to-first-deal"),
                         default="revenue")
    ranking.add_argument("--limit", type=int, default=10)
    ranking.add_argument("--currency", default="USD", help="revenue currency (default USD)")
    _partner_actions(partners_commands)

    _policy_commands(commands)
    _audit_commands(commands)
    examples.add_command(command(commands, "examples", examples.SUMMARY))
    dlq.add_commands(commands.add_parser(
        "dlq", help="operators: dead letters (bad input), and replaying them corrected"))

    database = commands.add_parser("db", help="operators: PostgreSQL set-up")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    init = command(database_commands, "init", "create schemas, tables and an append-only "
                    "service role (run as the database owner; the role's password from "
                    "DEALREG_SERVICE_DB_PASSWORD)", store_flags)
    init.add_argument("--role", default="dealreg_service", help="the services' login role")

    tail = command(commands, "tail", "print a topic's events as JSON lines", kafka_flags)
    tail.add_argument("topic", help="contract topic name, e.g. registrations.v1")
    tail.add_argument("--from-beginning", action="store_true",
                      help="start at the oldest event (default: only new ones)")
    tail.add_argument("--idle-exit", type=float, metavar="SECONDS",
                      help="exit after this long without a new event (default: run until Ctrl-C)")
    return parser


def _at(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--at", type=instant, metavar="RFC3339",
                         help=f"when {what}, e.g. 2026-03-10T09:00:00Z (default: now)")


def _dispute_actions(disputes_commands: Commands) -> None:
    resolve = command(disputes_commands, "resolve", "send dispute.resolved: give the account "
                       "to a registration of the dispute or to the direct team", kafka_flags,
                       store_flags)
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
    raising = command(disputes_commands, "raise", "send dispute.raised: a partner disputes "
                       "the registration that beat its own", kafka_flags, store_flags)
    raising.add_argument("registration_id", metavar="REGISTRATION_ID", type=actions.said,
                         help="the partner's registration, denied for a conflict")
    raising.add_argument("--evidence", required=True, type=actions.said, metavar="TEXT",
                         help="the partner's case, in words")
    _at(raising, "it was raised")
    raising.set_defaults(outgoing=actions.raise_dispute)


def _adjust_action(payouts_commands: Commands) -> None:
    adjust = command(payouts_commands, "adjust", "send payout.adjustment_requested: pay a "
                      "partner more, or less, by hand", *SENDS)
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
    enroll = command(partners_commands, "enroll", "send partner.enrolled: a partner joins a "
                      "program", *SENDS)
    enroll.add_argument("partner_id", metavar="PARTNER_ID", type=actions.said)
    enroll.add_argument("--name", required=True, type=actions.said, metavar="NAME",
                        help="the partner's name")
    enroll.add_argument("--program", required=True, choices=get_args(Program))
    enroll.add_argument("--tier", required=True, choices=get_args(Tier))
    _at(enroll, "it may register deals from")
    enroll.set_defaults(outgoing=actions.enroll)
    tier = command(partners_commands, "tier", "send partner.tier_changed: a partner's new "
                    "tier from an instant", *SENDS)
    tier.add_argument("partner_id", metavar="PARTNER_ID", type=actions.said)
    tier.add_argument("tier", choices=get_args(Tier), help="the new tier")
    tier.add_argument("--effective", required=True, type=instant, metavar="RFC3339",
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
    create = command(tokens_commands, "create", "make a token and print it once (only its "
                      "hash is kept)", store_flags)
    create.add_argument("--role", required=True, choices=ROLES,
                        help="what the token may call (docs/api.md)")
    create.add_argument("--partner", metavar="PARTNER_ID", type=actions.said,
                        help="the partner of a partner token: it sees only that partner's data")
    create.add_argument("--name", required=True, type=actions.said, metavar="NAME",
                        help="who holds it; names the holder in the events it sends "
                        "(resolved_by, requested_by) and is never reused")
    command(tokens_commands, "list", "every token: name, role, partner, created, revoked "
             "(never the token)", store_flags)
    revoke = command(tokens_commands, "revoke", "end a token: the API refuses it from now "
                      "on", store_flags)
    revoke.add_argument("name", metavar="NAME")


def _policy_commands(commands: Commands) -> None:
    policy = commands.add_parser("policy", help="billing: the program policy and what a new "
                                 "one would change")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    show = command(policy_commands, "show", "the policy in force at an instant, every field",
                    *REPORT)
    show.add_argument("--at", type=instant_or_day, metavar="RFC3339|YYYY-MM-DD",
                      help="the business instant; a date means 00:00 UTC that day "
                      "(default: now)")
    simulate = command(policy_commands, "simulate", "what publishing a policy.published "
                        "file would change in the payouts, without publishing it", *REPORT)
    simulate.add_argument("file", help="JSON-lines file of one policy.published CloudEvent, "
                          "as dealreg publish program.v1 takes it (- for stdin)")


def _audit_commands(commands: Commands) -> None:
    audit = commands.add_parser("audit", help="auditors: history, verification, export")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    command(audit_commands, "history", "every stored event about a registration, deal, "
             "dispute or partner", *REPORT).add_argument("id")
    command(audit_commands, "verify", "check every hash chain; exit 1 naming the first bad "
             "event, or when there is nothing to verify", store_flags)
    export = command(audit_commands, "export", "every stored event with its hash, for "
                      "external verification", store_flags)
    export.add_argument("--format", choices=("jsonl",), default="jsonl")
    export.add_argument("--output", metavar="FILE", help="write there (default: stdout)")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().with_overrides(
        kafka_bootstrap=getattr(args, "kafka", None),
        topic_prefix=getattr(args, "topic_prefix", None),
        log_level=getattr(args, "log_level", None),
        log_format=getattr(args, "log_format", None),
        database_url=getattr(args, "store", None),
        data_dir=getattr(args, "data_dir", None),
        partitions=getattr(args, "partitions", None),
        up_processes=getattr(args, "processes", None),
        api_host=getattr(args, "api_host", None),
        api_port=getattr(args, "api_port", None),
        local_broker_port=getattr(args, "local_broker_port", None),
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
    client = args.command not in ("up", "serve", "api", "broker")
    try:
        with logs.quiet("aiokafka") if client else contextlib.nullcontext():
            return asyncio.run(_run(args, settings))
    except KeyboardInterrupt:  # Ctrl-C of a client command (the services stop by signal)
        print(f"dealreg: interrupted (Ctrl-C); {args.command} did not finish",
              file=sys.stderr)
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
            return await operations.expire_due(settings, args.now, force=args.force)
        case "broker":
            return await broker.run_broker(settings)
        case "dlq":
            return await dlq.run_dlq(args, settings)
        case "examples":
            return await asyncio.to_thread(examples.write_examples, args, settings)
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
