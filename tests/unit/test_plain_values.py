"""Stored values as people and tools read them (audit records, read models, the HTTP API):
times in RFC 3339 UTC with Z as the contract writes them, money never in exponent form,
and times compared as instants, never as text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from dealreg.audit import plain
from dealreg.events.schemas.values import format_utc
from dealreg.projections.partner_metrics import _paid
from dealreg.projections.store import Document
from dealreg.services.payouts.domain import DealPayouts


def test_times_are_utc_with_z_and_money_is_a_plain_decimal_string() -> None:
    paris = timezone(timedelta(hours=2))
    assert plain({"at": datetime(2026, 3, 1, 12, 0, tzinfo=paris),
                  "exact": datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC),
                  "on": date(2026, 3, 1), "amount": Decimal("1E+2"), "rate": Decimal("0.20"),
                  "ids": (UUID(int=1),)}) == {
        "at": "2026-03-01T10:00:00Z", "exact": "2026-03-01T10:00:00.500000Z",
        "on": "2026-03-01", "amount": "100", "rate": "0.20",
        "ids": ["00000000-0000-0000-0000-000000000001"]}


@given(st.datetimes(timezones=st.timezones() | st.just(UTC)
                   | st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23)))))
def test_a_time_in_utc_is_written_as_converted_from_any_zone(instant: datetime) -> None:
    """The shortcut for times already in UTC writes what converting them writes."""
    assert format_utc(instant) == f"{instant.astimezone(UTC).replace(tzinfo=None).isoformat()}Z"


def calculated(closed_at: str) -> DealPayouts.Calculated:
    """A stored payout.calculated with what the partner metrics read of it."""
    event = object.__new__(DealPayouts.Calculated)
    vars(event).update(total=Decimal("10.00"), currency="EUR", basis={"sourced": "partner"},
                       lines=[{"kind": "commission", "base": Decimal("100.00")}],
                       closed_at=datetime.fromisoformat(closed_at))
    return event


def test_the_first_won_deal_is_the_earliest_instant_not_the_smallest_text() -> None:
    partner: Document = {}
    _paid(partner, {}, calculated("2026-04-10T00:00:00.500000+00:00"))
    assert partner["first_won_at"] == "2026-04-10T00:00:00.500000Z"
    _paid(partner, {}, calculated("2026-04-10T00:00:00+00:00"))  # as text, …00Z > …00.5Z
    assert partner["first_won_at"] == "2026-04-10T00:00:00Z"
