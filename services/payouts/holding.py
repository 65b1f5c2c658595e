"""The holding period and clawback of docs/contract.md §9. Pure.

The date of an instant is its calendar date in UTC, the time zone of every business time
the system keeps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal


def business_date(instant: datetime) -> date:
    """The UTC calendar date of ``instant``."""
    return instant.astimezone(UTC).date()


def payable_on(instant: datetime, holding_days: int) -> date:
    """When billing may pay a payout event: the date of ``instant`` (a deal's ``closed_at``,
    or an invoice's ``invoiced_at`` for its own ``payout.calculated``) plus ``holding_days``
    of the policy in force at that instant. A date past the calendar's end is its last day."""
    try:
        return business_date(instant) + timedelta(days=holding_days)
    except OverflowError:
        return date.max


def clawback(delta: Decimal, fact_time: datetime, payable_on: date) -> bool:
    """Whether a ``payout.adjusted`` of ``delta`` takes back money that may have been paid:
    the delta is negative and the date of the fact that caused it (``refunded_at``,
    ``settled_at``, the ``time`` of a retroactive policy or late fact, ``requested_at`` of a
    manual adjustment) is after ``payable_on``."""
    return delta < 0 and business_date(fact_time) > payable_on
