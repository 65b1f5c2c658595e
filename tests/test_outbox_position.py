"""The outbox stores its position after every publication, and only now and then while what
it reads emits nothing, without ever skipping what it has not published."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from dealreg.service import outbox_relay
from dealreg.settings import Settings
from services.conflict.service import CONFLICT
from services.partners import Partner
from services.payouts.service import PAYOUTS
from services.registration.service import REGISTRATION
from tests.support.bus import InMemoryBus
from tests.support.history import close_deals, generated_history

ENROLLED = datetime(2026, 1, 1, tzinfo=UTC)
NAME = "outbox:test"


class Broker:
    """Takes what is published, or fails while ``down``."""

    def __init__(self) -> None:
        self.published: list[bytes] = []
        self.down = False

    async def publish(self, value: bytes, **_: Any) -> asyncio.Future[None]:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.published.append(value)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def partner(number: int) -> Partner:
    return Partner(partner_id=f"p-{number}", name="P", program="referral", tier="gold",
                   enrolled_at=ENROLLED)


async def test_events_that_emit_nothing_move_the_position_in_memory_first(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, outbox_poll_ms=300)
    app = PAYOUTS.build_application(settings)
    relay = outbox_relay(PAYOUTS, app, cast(KafkaBroker, Broker()), settings, "test")
    app.record([partner(1)], Tracking("t", 1))  # the payouts service emits nothing for it

    assert await relay.publish_pending() == 0
    stored_after_first = app.position(NAME)
    app.record([partner(2)], Tracking("t", 2))
    assert await relay.publish_pending() == 0
    assert app.position(NAME) == stored_after_first  # not a commit per batch
    await asyncio.sleep(0.35)
    await relay.publish_pending()
    assert app.position(NAME) == app.recorder.max_notification_id()  # due: stored
    app.close()


async def test_what_failed_to_publish_is_read_again(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, outbox_poll_ms=60_000)
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    generated_history(bus, registrations=12)
    close_deals(bus, registrations=12)
    app = bus.apps()["payouts"]
    broker = Broker()
    relay = outbox_relay(PAYOUTS, app, cast(KafkaBroker, broker), settings, "test")

    broker.down = True
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    broker.down = False
    assert await relay.publish_pending(store_position=True) > 0
    assert any(b'"dealreg.payout.calculated.v1"' in value for value in broker.published)
    assert app.position(NAME) == app.recorder.max_notification_id()
    bus.close()
