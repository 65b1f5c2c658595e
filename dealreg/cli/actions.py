"""Commands that send one input event each, as the sales-ops, billing and partner-admin
tools would: ``dealreg disputes resolve|raise``, ``dealreg payouts adjust`` and
``dealreg partners enroll|tier``.

A command builds the event's payload from its arguments, validates the CloudEvent exactly
as ``dealreg publish`` does, produces it keyed as the contract says and prints it: the
CloudEvent as one JSON line on stdout, what it means in a sentence on stderr. Its
CloudEvent id is a uuid5 of the event's payload, so the same command run again sends the
same event, which the services take as a repeat; the ids the contract leaves to the tool
(a raised dispute's, a manual adjustment's) are uuid5s of the business content too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from aiokafka.errors import KafkaError
from eventsourcing.persistence import PersistenceError

from dealreg.bootstrap import CONFLICT
from dealreg.cli import kafka
from dealreg.events.schemas import BadInput, input_spec
from dealreg.events.schemas.iso_codes import is_known_currency
from dealreg.events.schemas.values import DECIMAL_PATTERN, format_utc
from dealreg.eventstore import ServiceApplication
from dealreg.identity import business_id
from dealreg.services.conflict import salesops
from dealreg.settings import Settings

SALESOPS = "/salesops"
PARTNER_ADMIN = "/partner-admin"


class CommandError(Exception):
    """A command refused; the message is one line for the person who ran it."""


def fail(message: str) -> int:
    """Say why a command failed, on stderr; its exit status."""
    print(f"dealreg: {message}", file=sys.stderr)
    return 1


#: The failures of an event store, whichever reports them.
STORE_ERRORS = (PersistenceError, psycopg.Error, sqlite3.Error)
#: The failures a command explains in one line instead of a traceback.
EXPECTED = (CommandError, KafkaError, *STORE_ERRORS)


def explain(error: Exception, settings: Settings) -> str:
    """One of :data:`EXPECTED`, in one line."""
    said = " ".join(str(error).split())
    if isinstance(error, STORE_ERRORS):
        return f"could not read the event store ({settings.store_description()}): {said}"
    if isinstance(error, KafkaError):
        return f"could not reach Kafka at {settings.bootstrap}: {said}"
    return said


@contextlib.contextmanager
def quiet(logger: str) -> Iterator[None]:
    """Only the critical log lines of ``logger`` while the block runs."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def now() -> datetime:
    """The default business time of a command: now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


# ------------------------------------------------------------------ argument types

_DECIMAL = re.compile(DECIMAL_PATTERN)


CENT = Decimal("0.01")


def amount(text: str) -> Decimal:
    """AMOUNT: a decimal number (never a float) in cents, not zero."""
    if not _DECIMAL.match(text) or Decimal(text) != Decimal(text).quantize(CENT):
        raise argparse.ArgumentTypeError(
            f"not an amount: {text!r} (a decimal number in cents such as 150.00 or -75.50)")
    value = Decimal(text).quantize(CENT)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "the amount must not be zero (a negative amount takes money back)")
    return value


def currency(text: str) -> str:
    """CURRENCY: an ISO 4217 code, in any case."""
    code = text.upper()
    if not is_known_currency(code):
        raise argparse.ArgumentTypeError(f"not an ISO 4217 currency code: {text!r}")
    return code


def said(text: str) -> str:
    """Text a person must give: not empty, not only white space."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


# ------------------------------------------------------------------ the events


@dataclass(frozen=True)
class Outgoing:
    """The one input event a command sends: its contract name, its payload as JSON values,
    the business time of the fact, its source and, in words, what it says. ``options``
    names the argument behind each payload field, for error messages."""

    name: str
    data: dict[str, Any]
    time: datetime
    source: str
    sentence: str
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """uuid5 of the event and its payload: the same command gives the same id."""
        content = json.dumps(self.data, sort_keys=True, ensure_ascii=False)
        return str(business_id(f"command:{self.name}", content))


def message(outgoing: Outgoing) -> kafka.Message:
    """The CloudEvent of ``outgoing``, validated as ``dealreg publish`` validates a line,
    with its Kafka key; :class:`CommandError` naming the argument when it is invalid."""
    spec = input_spec(outgoing.name)
    document = {
        "specversion": "1.0",
        "id": outgoing.event_id,
        "source": outgoing.source,
        "type": spec.type,
        "time": format_utc(outgoing.time),
        "subject": spec.subject(spec.model.model_construct(**outgoing.data)),
        "datacontenttype": "application/json",
        "data": outgoing.data,
    }
    line = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    try:
        return kafka.validate_line(spec.topic, line)
    except BadInput as bad:
        raise CommandError(_in_words(bad.error, outgoing.options)) from None


def _in_words(error: str, options: Mapping[str, str]) -> str:
    """``error`` naming the command's arguments instead of the payload's fields."""
    for name in sorted(options, key=len, reverse=True):
        error = error.replace(f"data.{name}:", f"{options[name]}:")
    return error


def raised_dispute_id(registration_id: str) -> str:
    """The id of the dispute raised for a registration: one registration, one dispute."""
    return str(business_id("dispute.raised", registration_id))


def adjustment_id(deal_id: str, partner_id: str, amount: Decimal, currency: str, *,
                  reason: str, by: str, at: datetime) -> str:
    """The id of a manual adjustment: the same correction gives the same id (150 and
    150.00 are the same amount)."""
    content = json.dumps([deal_id, partner_id, format(amount.normalize(), "f"), currency,
                          reason, by, format_utc(at)], ensure_ascii=False)
    return str(business_id("adjustment", content))


def dispute_resolution(dispute_id: str, winner_registration_id: str | None, *, by: str,
                       rationale: str, at: datetime) -> Outgoing:
    """``dispute.resolved``: the account goes to a registration, or (None) the direct team."""
    winner = ({"direct": True} if winner_registration_id is None
              else {"registration_id": winner_registration_id})
    to = ("the direct team" if winner_registration_id is None
          else f"registration {winner_registration_id}")
    return Outgoing(
        "dispute.resolved",
        {"dispute_id": dispute_id, "winner": winner, "resolved_at": format_utc(at),
         "resolved_by": by, "rationale": rationale},
        at, SALESOPS,
        f"dispute {dispute_id} goes to {to}, decided by {by}; dealreg answers with "
        "dispute.settled on conflicts.v1",
        {"dispute_id": "DISPUTE_ID", "winner.registration_id": "--winner",
         "resolved_by": "--by", "rationale": "--rationale"})


def dispute_raised(registration_id: str, *, evidence: str, at: datetime) -> Outgoing:
    """``dispute.raised`` by the partner of a registration denied for a conflict."""
    dispute_id = raised_dispute_id(registration_id)
    return Outgoing(
        "dispute.raised",
        {"dispute_id": dispute_id, "registration_id": registration_id,
         "raised_at": format_utc(at), "evidence": evidence},
        at, SALESOPS,
        f"dispute {dispute_id} raised for registration {registration_id}; dealreg answers "
        "with dispute.opened on conflicts.v1",
        {"registration_id": "REGISTRATION_ID", "evidence": "--evidence"})


def adjustment(deal_id: str, partner_id: str, amount: Decimal, currency: str, *,
               reason: str, by: str, at: datetime) -> Outgoing:
    """``payout.adjustment_requested``: money given (or, negative, taken back) by hand."""
    correction = adjustment_id(deal_id, partner_id, amount, currency, reason=reason, by=by,
                               at=at)
    return Outgoing(
        "payout.adjustment_requested",
        {"adjustment_id": correction, "deal_id": deal_id, "partner_id": partner_id,
         "amount": {"amount": format(amount, "f"), "currency": currency},
         "reason": reason, "requested_by": by, "requested_at": format_utc(at)},
        at, SALESOPS,
        f"{format(amount, 'f')} {currency} for partner {partner_id} on deal {deal_id} "
        f"(adjustment {correction}); dealreg answers with payout.adjusted, or "
        "payout.adjustment_rejected and the reason, on payouts.v1",
        {"deal_id": "DEAL_ID", "partner_id": "PARTNER_ID", "amount.amount": "AMOUNT",
         "amount.currency": "CURRENCY", "reason": "--reason", "requested_by": "--by"})


def enrollment(partner_id: str, *, name: str, program: str, tier: str,
               at: datetime) -> Outgoing:
    """``partner.enrolled``: the partner may register deals from ``at``."""
    return Outgoing(
        "partner.enrolled",
        {"partner_id": partner_id, "name": name, "program": program, "tier": tier,
         "enrolled_at": format_utc(at)},
        at, PARTNER_ADMIN,
        f"partner {partner_id} ({name}) enrolled in the {program} program as {tier} from "
        f"{format_utc(at)}",
        {"partner_id": "PARTNER_ID", "name": "--name"})


def tier_change(partner_id: str, tier: str, *, effective: datetime) -> Outgoing:
    """``partner.tier_changed``, effective at an instant that may be in the past."""
    return Outgoing(
        "partner.tier_changed",
        {"partner_id": partner_id, "tier": tier, "effective_at": format_utc(effective)},
        effective, PARTNER_ADMIN,
        f"partner {partner_id} is {tier} from {format_utc(effective)}",
        {"partner_id": "PARTNER_ID"})


# ------------------------------------------------------------------ from the arguments

#: What a command sends, from its parsed arguments (set as the parser's ``outgoing``).
FromArguments = Callable[[argparse.Namespace, Settings], Outgoing]


def resolve(args: argparse.Namespace, settings: Settings) -> Outgoing:
    winner = None if args.direct else args.winner
    check_resolvable(settings, args.dispute_id, winner)
    return dispute_resolution(args.dispute_id, winner, by=args.by, rationale=args.rationale,
                              at=args.at or now())


def check_resolvable(settings: Settings, dispute_id: str, winner: str | None) -> None:
    """Refuse a resolution the conflict service's store says cannot apply: an unknown or
    settled dispute, a winner that is not one of its registrations."""
    _check(settings, lambda app: salesops.resolvable(app, dispute_id, winner))


def _check(settings: Settings, check: Callable[[ServiceApplication], object]) -> None:
    """Run ``check`` on the conflict service's store; its refusal is the command's."""
    app = CONFLICT.build_application(settings)
    try:
        check(app)
    except salesops.NotFoundError as missing:
        raise CommandError(f"{missing} in the conflict service's store "
                           f"({settings.store_description()})") from None
    except salesops.RefusedError as refused:
        raise CommandError(str(refused)) from None
    finally:
        app.close()


def raise_dispute(args: argparse.Namespace, settings: Settings) -> Outgoing:
    """Refused unless the registration was denied for a conflict and not disputed yet."""
    dispute_id = raised_dispute_id(args.registration_id)
    _check(settings, lambda app: salesops.raisable(app, args.registration_id, dispute_id))
    return dispute_raised(args.registration_id, evidence=args.evidence, at=args.at or now())


def adjust(args: argparse.Namespace, settings: Settings) -> Outgoing:
    return adjustment(args.deal_id, args.partner_id, args.amount, args.currency,
                      reason=args.reason, by=args.by, at=args.at or now())


def enroll(args: argparse.Namespace, settings: Settings) -> Outgoing:
    return enrollment(args.partner_id, name=args.name, program=args.program, tier=args.tier,
                      at=args.at or now())


def change_tier(args: argparse.Namespace, settings: Settings) -> Outgoing:
    return tier_change(args.partner_id, args.tier, effective=args.effective)


async def send(args: argparse.Namespace, settings: Settings) -> int:
    """Build the command's event (``args.outgoing``), produce it and print it."""
    build: FromArguments = args.outgoing
    try:
        outgoing = await asyncio.to_thread(build, args, settings)
        sent = message(outgoing)
        with quiet("aiokafka"):  # its errors are explained below, in one line
            await kafka.produce(settings, sent.event.spec.topic, [sent])
    except EXPECTED as error:
        return fail(explain(error, settings))
    print(sent.value.decode("utf-8"), flush=True)
    print(f"sent {outgoing.name} to {settings.topic(sent.event.spec.topic)}: "
          f"{outgoing.sentence}", file=sys.stderr)
    return 0
