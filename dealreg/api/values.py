"""What the API's requests and answers are made of: JSON values as the contract writes them
(money ``{"amount": "1234.50", "currency": "EUR"}`` with a decimal string, times RFC 3339
in UTC with ``Z``, dates ``YYYY-MM-DD``), and the answer to a request that sends an event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from dealreg import actions
from dealreg.actions import Outgoing
from dealreg.actions.producing import Produce
from dealreg.audit import plain


def document(value: Any) -> Any:
    """``value`` as JSON values: money and rates as decimal strings, times with ``Z``."""
    return plain(value)


def money(amount: Decimal | str, currency: str) -> dict[str, str]:
    return {"amount": format(Decimal(amount), "f"), "currency": currency}


def moneys(by_currency: Mapping[str, Decimal | str]) -> list[dict[str, str]]:
    """``{currency: amount}`` as a list of money, by currency."""
    return [money(amount, currency) for currency, amount in sorted(by_currency.items())]


def said(text: str) -> str:
    """A text a person must write (a rationale, a reason, evidence): not only white space."""
    if not text.strip():
        raise ValueError("must not be empty")
    return text


class StrictBody(BaseModel):
    """A request body: a field the endpoint does not name is refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sent(BaseModel):
    """What a request sent: the CloudEvent, as produced to its topic (202 Accepted: the
    services decide, and announce what they decided on their output topics)."""

    topic: str
    event: dict[str, Any]


async def send(outgoing: Outgoing, produce: Produce) -> Sent:
    """Validate and produce ``outgoing`` as the command line does; what was sent."""
    sent = await actions.send(outgoing, produce)
    return Sent(topic=sent.event.spec.topic, event=json.loads(sent.value))
