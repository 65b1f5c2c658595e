"""How the sales-ops and billing commands print one value for a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from dealreg.cli.reports import _facts, _text


def test_times_print_in_utc_with_z_and_text_as_it_is() -> None:
    paris = timezone(timedelta(hours=1))
    assert _text(datetime(2026, 3, 1, 11, 0, tzinfo=paris)) == "2026-03-01T10:00:00Z"
    assert _text(datetime(2026, 3, 1, 10, 0, tzinfo=UTC)) == "2026-03-01T10:00:00Z"
    assert _text('ACME "Holdings"') == 'ACME "Holdings"'  # quotes inside are kept
    assert _text(Decimal("1250.00")) == "1250.00"


def test_numbers_and_collections_print_as_json() -> None:
    assert _text(3) == "3"
    assert _text(True) == "true"
    assert _text(["r-1", "r-2"]) == '["r-1", "r-2"]'
    assert _facts({"kind": "partner_vs_partner", "registration_ids": ["r-1"], "none": None,
                   "empty": []}) == 'kind=partner_vs_partner, registration_ids=["r-1"]'
