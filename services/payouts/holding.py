"""Clawback of docs/contract.md §9. Pure. (``payable_on`` is the policy's:
:meth:`dealreg.services.program_policy.Policy.payable_on`.)"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from dealreg.services.program_policy import business_date


def clawback(delta: Decimal, fact_time: datetime, payable_on: date) -> bool:
    """Whether a ``payout.adjusted`` of ``delta`` takes back money that may have been paid:
    the delta is negative and the date of the fact that caused it (``refunded_at``,
    ``settled_at``, the ``time`` of a retroactive policy or late fact, ``requested_at`` of a
    manual adjustment) is after ``payable_on``."""
    return delta < 0 and business_date(fact_time) > payable_on
