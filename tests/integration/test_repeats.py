"""A business id received again: the same content is ignored, other content is bad input."""

from __future__ import annotations

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from tests.support import events as ev
from tests.support.bus import InMemoryBus


def test_a_registration_id_reused_with_other_content_is_dead_lettered() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    bus.send("partners.v1", ev.partner_enrolled("p-1"))
    submitted = ev.registration_submitted("r-1", "p-1")
    bus.send("registrations.requests.v1", submitted)
    published = len(bus.published)
    bus.send("registrations.requests.v1", submitted)  # a producer's retry
    assert bus.rejected == []
    assert len(bus.published) == published

    changed = ev.registration_submitted("r-1", "p-1", amount="999.00")
    bus.send("registrations.requests.v1", changed)
    [rejected] = bus.rejected
    assert ("data.estimated_value: registration 'r-1' was already received with other "
            "content (differs in estimated_value)") in rejected
    assert len(bus.published) == published


def test_a_deal_id_reused_with_other_content_is_dead_lettered() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])
    bus.send("partners.v1", ev.partner_enrolled("p-1", enrolled_at="2026-01-01T00:00:00Z"))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-1", submitted_at="2026-03-01T00:00:00Z"))
    bus.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-03-10T00:00:00Z"))
    bus.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-03-10T00:00:00Z"))
    assert bus.rejected == []
    bus.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-03-10T00:00:00Z",
                                      amount="1.00", co_sell=True))
    [rejected] = bus.rejected
    assert "data.co_sell: deal 'd-1' was already received with other content " \
           "(differs in co_sell, value)" in rejected
    payouts = [event for topic, event in bus.published if topic == "payouts.v1"]
    assert [event["type"] for event in payouts] == ["dealreg.payout.calculated.v1"]
