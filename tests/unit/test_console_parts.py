"""The console's parts that need no server: sessions (their CSRF token, idle end, the
longest unused ending first beyond the most kept), the payout chart (bars up and down,
every text escaped), durations and review ages as the queue shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dealreg.console import sessions
from dealreg.console.charts import payout_bars
from dealreg.console.salesops import review, span
from dealreg.console.sessions import Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_idle_time_and_on_sign_out() -> None:
    clock = Clock()
    kept = Sessions(clock)
    session_id, session = kept.open("ops-lead")
    assert kept.find(session_id) is session
    clock.now += sessions.IDLE_S - 1
    assert kept.find(session_id) is session  # used: its idle time starts again
    clock.now += sessions.IDLE_S + 1
    assert kept.find(session_id) is None
    other, _ = kept.open()
    kept.end(other)
    assert kept.find(other) is None
    assert kept.find(None) is None
    assert kept.find("made-up") is None


def test_beyond_the_most_sessions_the_longest_unused_of_its_kind_ends_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MOST", 3)
    kept = Sessions(Clock())
    first, _ = kept.open("a")
    second, _ = kept.open("b")
    third, _ = kept.open("c")
    assert kept.find(first) is not None  # used last now: second is the longest unused
    kept.open("d")
    assert kept.find(second) is None
    assert kept.find(first) is not None
    assert kept.find(third) is not None
    flood = [kept.open()[0] for _ in range(10)]  # visitors who never sign in
    assert [kept.find(one) is not None for one in flood[-4:]] == [False, True, True, True]
    assert kept.find(first) is not None
    assert kept.find(third) is not None


def test_a_forms_csrf_token_must_be_the_sessions_own() -> None:
    kept = Sessions()
    _, session = kept.open()
    _, other = kept.open()
    assert session.sent_back(session.csrf)
    assert not session.sent_back(other.csrf)
    assert not session.sent_back(None)
    assert not session.sent_back("")
    assert session.csrf != other.csrf
    assert len(session.csrf) >= 40


def deal(deal_id: str, amount: str, closed_at: str, currency: str = "EUR") -> dict[str, object]:
    return {"deal_id": deal_id, "closed_at": closed_at,
            "net": {"amount": amount, "currency": currency}}


def test_the_chart_draws_each_deal_in_the_order_they_closed_and_escapes_every_text() -> None:
    chart = payout_bars([deal("d-2", "-250.00", "2026-04-02T00:00:00Z"),
                         deal("<d-1>", "1000.00", "2026-04-01T00:00:00Z"),
                         deal("d-3", "99.00", "2026-04-03T00:00:00Z", "USD")])
    assert chart is not None
    assert (chart.currency, chart.left_out) == ("EUR", 1)
    svg = str(chart.svg)
    assert svg.index("&lt;d-1&gt;: 1000.00 EUR") < svg.index("d-2: -250.00 EUR")
    assert "<d-1>" not in svg
    assert svg.count('class="bar"') == 1
    assert svg.count('class="bar back"') == 1
    assert payout_bars([]) is None


def test_ages_read_as_days_and_hours_and_a_late_review_is_overdue() -> None:
    assert span(timedelta(days=2, hours=5, minutes=10)) == "2 d 5 h"
    assert span(timedelta(hours=3, minutes=7)) == "3 h 7 min"
    assert span(timedelta(minutes=40)) == "40 min"
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    target = timedelta(hours=48)
    late = review({"opened_at": "2026-03-07T12:00:00Z", "settled_at": None}, target, at)
    assert (late["overdue"], late["late"], late["age"]) == (True, "1 d 0 h", "3 d 0 h")
    due = review({"opened_at": "2026-03-09T12:00:00Z", "settled_at": None}, target, at)
    assert (due["overdue"], due["late"]) == (False, None)
    settled = review({"opened_at": "2026-03-01T00:00:00Z",
                      "settled_at": "2026-03-05T00:00:00Z"}, target, at)
    assert (settled["overdue"], settled["age"]) == (False, "4 d 0 h")
