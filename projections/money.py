"""Money in read models: decimal strings per currency, added exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def add(amounts: dict[str, str], currency: str, amount: Any) -> None:
    """``amounts[currency] += amount`` on decimal strings (``amount`` a Decimal or string)."""
    total = Decimal(amounts.get(currency, "0")) + Decimal(str(amount))
    amounts[currency] = str(total)
