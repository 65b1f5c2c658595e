"""The outbox publishes the events its consumer has just stored as they were handed to it,
without reading them back, and still reads back what was stored otherwise, in order and
with nothing lost (real broker; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from faststream.kafka import KafkaBroker

from dealreg.bootstrap import REGISTRATION
from dealreg.eventstore import ServiceApplication
from dealreg.outbox import OutboxRelay
from dealreg.processing import InboundProcessor, InboundRecord
from dealreg.runtime import input_tracking_prefix, outbox_relay, outbox_tracking_name
from dealreg.services.partners import Partner
from dealreg.settings import Settings
from dealreg.topics import ensure_topics
from tests.support.events import encode, partner_enrolled, registration_submitted
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

REQUESTS = "registrations.requests.v1"


@dataclass
class Service:
    """One registration service's store, consumer side and outbox, driven by the test."""

    settings: Settings
    cluster_id: str
    app: ServiceApplication
    relay: OutboxRelay
    processor: InboundProcessor

    def apply(self, *records: InboundRecord) -> None:
        self.processor.process_poll(records)

    def outbox_position(self) -> int | None:
        return self.app.position(outbox_tracking_name(self.cluster_id))


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    cluster_id = await ensure_topics(settings)
    app = REGISTRATION.build_application(settings)
    broker = KafkaBroker(settings.bootstrap, logger=None)
    await broker.connect()
    relay = outbox_relay(REGISTRATION, app, broker, settings, cluster_id)
    processor = InboundProcessor(app, REGISTRATION.inbound, settings.logical_topic,
                                 input_tracking_prefix(cluster_id), on_recorded=relay.hand)
    yield Service(settings, cluster_id, app, relay, processor)
    await broker.stop()
    app.close()


def record(settings: Settings, topic: str, partition: int, offset: int,
           event: dict[str, Any]) -> InboundRecord:
    return InboundRecord(settings.topic(topic), partition, offset, b"key", encode(event),
                         1_767_225_600_000)


def submissions(settings: Settings, partition: int, first: int, count: int,
                partner_id: str = "p-1") -> list[InboundRecord]:
    return [record(settings, REQUESTS, partition, offset, registration_submitted(
        f"r-{partition}-{offset}", partner_id, domain=f"d{partition}-{offset}.example"))
        for offset in range(first, first + count)]


def messages_read_back(service: Service) -> list[bytes]:
    """What every stored event becomes when read back and decoded from the log."""
    app, values = service.app, list[bytes]()
    for notification in app.recorder.select_notifications(start=0, limit=10_000,
                                                           inclusive_of_start=False):
        values.extend(message.value for message in service.relay.messages_for(
            app.mapper.to_domain_event(notification)))
    return values


async def published(service: Service, at_least: int) -> list[bytes]:
    records = await read_topic(service.settings, "registrations.v1", at_least=at_least)
    return [r.value for r in records if r.value is not None]


async def test_what_a_poll_stored_is_published_as_handed_over_not_read_back(
    service: Service,
) -> None:
    settings = service.settings
    service.apply(record(settings, "partners.v1", 0, 0, partner_enrolled("p-1")),
                  *submissions(settings, 0, 0, 3), *submissions(settings, 1, 0, 2))

    assert await service.relay.publish_pending() == 5  # five registration.received
    assert service.relay.read_back == 0
    expected = messages_read_back(service)
    assert sorted(await published(service, 5)) == sorted(expected)  # the same bytes
    assert service.outbox_position() == service.app.recorder.max_notification_id()


async def test_handed_events_after_the_position_are_published_without_reading_the_store(
    service: Service, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = service.settings
    service.apply(record(settings, "partners.v1", 0, 0, partner_enrolled("p-1")),
                  *submissions(settings, 0, 0, 2))
    assert await service.relay.publish_pending() == 2  # reads the outbox position once

    def read_store() -> None:
        raise AssertionError("the store was read for events handed over")

    monkeypatch.setattr(service.relay, "next_batch", read_store)
    service.apply(*submissions(settings, 0, 2, 3))
    assert await service.relay.publish_pending(read_store=False) == 3
    assert await service.relay.publish_pending(read_store=False) == 0  # nothing handed
    assert sorted(await published(service, 5)) == sorted(messages_read_back(service))
    assert service.outbox_position() == service.app.recorder.max_notification_id()


def polled_every(service: Service, outbox_poll_ms: int) -> Service:
    """The same store with a relay (and its consumer side) polling every ``outbox_poll_ms``."""
    settings = service.settings.with_overrides(outbox_poll_ms=outbox_poll_ms)
    relay = outbox_relay(REGISTRATION, service.app, service.relay.broker, settings,
                         service.cluster_id)
    processor = InboundProcessor(service.app, REGISTRATION.inbound, settings.logical_topic,
                                 input_tracking_prefix(service.cluster_id),
                                 on_recorded=relay.hand)
    return Service(settings, service.cluster_id, service.app, relay, processor)


async def test_a_batch_that_publishes_nothing_leaves_its_position_to_a_later_round(
    service: Service,
) -> None:
    service = polled_every(service, 60_000)
    settings = service.settings
    service.apply(record(settings, "partners.v1", 0, 0, partner_enrolled("p-1")),
                  *submissions(settings, 0, 0, 1))
    assert await service.relay.publish_pending() == 1
    published_up_to = service.outbox_position()
    service.apply(record(settings, "partners.v1", 0, 1, partner_enrolled("p-2")))  # silent

    assert await service.relay.publish_pending(read_store=False) == 0
    assert service.outbox_position() == published_up_to  # no transaction for it
    assert await service.relay.publish_pending() == 0  # a round that reads the store
    assert service.outbox_position() == service.app.recorder.max_notification_id()


async def test_a_silent_batch_stores_its_position_once_the_poll_interval_has_passed(
    service: Service,
) -> None:
    service = polled_every(service, 1)
    assert await service.relay.publish_pending() == 0  # the position read, and stored
    await asyncio.sleep(0.01)
    service.apply(record(service.settings, "partners.v1", 0, 0, partner_enrolled("p-1")))

    assert await service.relay.publish_pending(read_store=False) == 0
    assert service.outbox_position() == service.app.recorder.max_notification_id()


async def test_a_running_relay_publishes_what_it_is_woken_to_read_at_once(
    service: Service,
) -> None:
    """Events stored without being handed over (the expiry scheduler's) are published when
    the relay is woken for them, not at its next poll of the store (a minute here)."""
    service = polled_every(service, 60_000)
    settings, relay = service.settings, service.relay
    stopping = asyncio.Event()
    running = asyncio.create_task(relay.run(stopping))
    try:
        await asyncio.sleep(0.2)  # its first round: nothing stored yet
        InboundProcessor(service.app, REGISTRATION.inbound, settings.logical_topic,
                         input_tracking_prefix(service.cluster_id)).process_poll(
            [record(settings, "partners.v1", 0, 0, partner_enrolled("p-1")),
             *submissions(settings, 0, 0, 2)])  # stored, not handed over
        relay.wake_to_read()
        assert len(await published(service, 2)) == 2
    finally:
        stopping.set()
        await running


async def test_events_stored_by_another_process_are_read_back_between_handed_ones(
    service: Service,
) -> None:
    settings = service.settings
    service.apply(record(settings, "partners.v1", 0, 0, partner_enrolled("p-1")),
                  *submissions(settings, 0, 0, 2))
    before = service.app.recorder.max_notification_id() or 0
    other = REGISTRATION.build_application(settings)  # another instance, other partitions
    try:
        InboundProcessor(other, REGISTRATION.inbound, settings.logical_topic,
                         input_tracking_prefix(service.cluster_id)).process_poll(
            submissions(settings, 2, 0, 2))
        theirs = (other.recorder.max_notification_id() or 0) - before
    finally:
        other.close()
    service.apply(*submissions(settings, 0, 2, 2))

    assert await service.relay.publish_pending() == 6
    assert service.relay.read_back == theirs  # only the other instance's events
    assert sorted(await published(service, 6)) == sorted(messages_read_back(service))
    assert service.outbox_position() == service.app.recorder.max_notification_id()


@pytest.mark.postgres
async def test_a_gap_in_the_log_before_handed_events_loses_nothing(
    postgres_settings: Settings,
) -> None:
    """A transaction that rolled back on PostgreSQL leaves its notification ids unused: the
    events handed over after it follow the outbox position with a gap, and are published."""
    cluster_id = await ensure_topics(postgres_settings)
    app = REGISTRATION.build_application(postgres_settings)
    broker = KafkaBroker(postgres_settings.bootstrap, logger=None)
    await broker.connect()
    try:
        relay = outbox_relay(REGISTRATION, app, broker, postgres_settings, cluster_id)
        processor = InboundProcessor(app, REGISTRATION.inbound, postgres_settings.logical_topic,
                                     input_tracking_prefix(cluster_id), on_recorded=relay.hand)
        service = Service(postgres_settings, cluster_id, app, relay, processor)
        service.apply(record(postgres_settings, "partners.v1", 0, 0, partner_enrolled("p-1")),
                      *submissions(postgres_settings, 0, 0, 1))
        assert await relay.publish_pending() == 1
        head = app.recorder.max_notification_id() or 0
        twin = Partner(partner_id="p-1", name="P", program="referral", tier="gold",
                       enrolled_at=datetime(2026, 1, 1, tzinfo=UTC))
        with pytest.raises(IntegrityError):  # p-1 exists: the insert is rolled back
            app.record([twin], Tracking("elsewhere", 1))
        service.apply(*submissions(postgres_settings, 0, 1, 2))
        first_new = app.recorder.select_notifications(start=head, limit=1,
                                                      inclusive_of_start=False)[0].id
        assert first_new > head + 1  # the gap

        assert await relay.publish_pending() == 2
        assert relay.read_back == 0
        assert sorted(await published(service, 3)) == sorted(messages_read_back(service))
        assert service.outbox_position() == app.recorder.max_notification_id()
    finally:
        await broker.stop()
        app.close()
