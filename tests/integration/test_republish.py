"""An output event published again (the outbox republishes what it published but had not
recorded as published when it crashed: same id, new offset) changes nothing downstream: no
new stored event, no new output."""

from __future__ import annotations

from typing import Any

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from tests.support.bus import InMemoryBus
from tests.support.history import close_deals, generated_history

INTERNAL = ("registrations.v1", "conflicts.v1")


def test_republished_internal_events_are_recognised_and_change_nothing() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])
    seen = [0]
    replayed: list[tuple[str, dict[str, Any]]] = []

    def republish_what_was_just_published() -> None:
        fresh = bus.published[seen[0]:]
        again = [(topic, event) for topic, event in fresh if topic in INTERNAL]
        stored = {name: app.recorder.max_notification_id() for name, app in bus.apps().items()}
        bus.after_send = None
        for topic, event in again:
            bus.send(topic, event)
        bus.after_send = republish_what_was_just_published
        assert {name: app.recorder.max_notification_id()
                for name, app in bus.apps().items()} == stored, again
        assert len(bus.published) == seen[0] + len(fresh)
        replayed.extend(again)
        seen[0] = len(bus.published)

    bus.after_send = republish_what_was_just_published
    generated_history(bus, registrations=120)
    close_deals(bus, registrations=120)
    assert bus.rejected == []
    kinds = {event["type"] for _, event in replayed}
    assert {"dealreg.registration.approved.v1", "dealreg.dispute.settled.v1",
            "dealreg.claim.granted.v1", "dealreg.registration.rejected.v1"} <= kinds
