"""Commands that send one input event each, as the sales-ops, billing and partner-admin
tools would: ``dealreg disputes resolve|raise``, ``dealreg payouts adjust`` and
``dealreg partners enroll|tier``.

A command builds its event from its arguments with the functions the HTTP API uses too
(:mod:`dealreg.actions`), validates the CloudEvent exactly as ``dealreg publish`` does,
produces it keyed as the contract says and prints it: the CloudEvent as one JSON line on
stdout, what it means in a sentence on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial

from aiokafka.errors import KafkaError

from dealreg import actions
from dealreg.actions import Outgoing, now
from dealreg.actions.partner_admin import enrollment, tier_change
from dealreg.actions.producing import Message, produce
from dealreg.actions.salesops import (
    NotInCentsError,
    adjustment,
    dispute_raised,
    dispute_resolution,
    manual_amount,
    raised_dispute_id,
)
from dealreg.bootstrap import CONFLICT, REGISTRATION
from dealreg.events.schemas import BadInput
from dealreg.events.schemas.iso_codes import is_known_currency
from dealreg.events.schemas.values import DECIMAL_PATTERN
from dealreg.eventstore import STORE_ERRORS, ServiceApplication
from dealreg.logs import quiet
from dealreg.services.conflict import salesops
from dealreg.services.registration.status import status_of
from dealreg.settings import Settings


class CommandError(Exception):
    """A command refused; the message is one line for the person who ran it."""


def fail(message: str) -> int:
    """Say why a command failed, on stderr; its exit status."""
    print(f"dealreg: {message}", file=sys.stderr)
    return 1


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


# ------------------------------------------------------------------ argument types

_DECIMAL = re.compile(DECIMAL_PATTERN)


def amount(text: str) -> Decimal:
    """AMOUNT: a decimal number (never a float) in cents, not zero."""
    try:
        if _DECIMAL.match(text):
            return manual_amount(Decimal(text))
    except NotInCentsError:
        pass
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    raise argparse.ArgumentTypeError(
        f"not an amount: {text!r} (a decimal number in cents such as 150.00 or -75.50)")


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


def message(outgoing: Outgoing) -> Message:
    """The validated CloudEvent of ``outgoing`` (:func:`dealreg.actions.message`);
    :class:`CommandError` naming the command's argument when it is invalid."""
    try:
        return actions.message(outgoing)
    except BadInput as bad:
        raise CommandError(_in_words(bad.error, outgoing.options)) from None


def _in_words(error: str, options: Mapping[str, str]) -> str:
    """``error`` naming the command's arguments instead of the payload's fields."""
    for name in sorted(options, key=len, reverse=True):
        error = error.replace(f"data.{name}:", f"{options[name]}:")
    return error


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
    from dealreg.cli.stores import existing_application

    app = existing_application(CONFLICT, settings)
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
    """Refused unless the registration was denied for a conflict and not disputed yet; a
    registration the conflict service did not deny is refused with its status as the
    registration service's store has it."""
    registration_id = args.registration_id
    dispute_id = raised_dispute_id(registration_id)

    def check(app: ServiceApplication) -> None:
        try:
            salesops.raisable(app, registration_id, dispute_id)
        except salesops.NotFoundError:
            status = _registration_status(settings, registration_id)
            if status is None:
                raise
            raise salesops.RefusedError(salesops.not_disputable(registration_id,
                                                                status)) from None

    _check(settings, check)
    return dispute_raised(args.registration_id, evidence=args.evidence, at=args.at or now())


def _registration_status(settings: Settings, registration_id: str) -> str | None:
    """The registration's status in the registration service's store, if it has one."""
    from dealreg.cli.stores import StoreAbsentError, existing_application

    try:
        app = existing_application(REGISTRATION, settings)
    except StoreAbsentError:  # none here: the conflict service's word stands
        return None
    try:
        return status_of(app, registration_id)
    finally:
        app.close()


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
        with quiet("aiokafka"):  # its errors are explained below, in one line
            sent = await actions.send(outgoing, partial(produce, settings))
    except BadInput as bad:  # refused naming the command's arguments
        return fail(_in_words(bad.error, outgoing.options))
    except EXPECTED as error:
        return fail(explain(error, settings))
    print(sent.value.decode("utf-8"), flush=True)
    print(f"sent {outgoing.name} to {settings.topic(sent.event.spec.topic)}: "
          f"{outgoing.sentence}", file=sys.stderr)
    return 0
