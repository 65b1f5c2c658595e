"""The foundation slice end to end on the real local broker, on SQLite and on PostgreSQL.

registration.submitted → registration service → registration.received on
registrations.v1, keyed by the account key; effectively-once under redelivery and
SIGKILL; bad input to the dead-letter topic without stopping the consumer.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from dealreg.bootstrap import REGISTRATION
from dealreg.services.partners import Partner
from dealreg.settings import Settings
from tests.support.contract import assert_valid_event
from tests.support.events import encode, partner_enrolled, registration_submitted
from tests.support.kafka import Received, produce, read_topic
from tests.support.processes import after_restart, run_until_killed
from tests.support.running import app_of, eventually, running, stored_event_count

REPO = Path(__file__).resolve().parents[2]


async def enroll(settings: Settings, partner_id: str = "p-1") -> None:
    await produce(settings, "partners.v1", [encode(partner_enrolled(partner_id))])


async def test_submission_is_received_keyed_by_account_key(settings: Settings) -> None:
    async with running(REGISTRATION, settings) as runtime:
        await enroll(settings)
        app = app_of(runtime)
        await eventually(lambda: app.stored(Partner.create_id("p-1")))
        await produce(settings, "registrations.requests.v1",
                      [encode(registration_submitted("r-1", "p-1"))])
        [record] = await read_topic(settings, "registrations.v1", at_least=1)

    assert record.key == b"domain:acme.example"
    assert record.headers["content-type"] == b"application/cloudevents+json"
    event = record.json()
    assert_valid_event(event, "registrations.v1")
    assert event["type"] == "dealreg.registration.received.v1"
    assert event["source"] == "/dealreg/registration"
    assert event["subject"] == "r-1"
    assert event["time"] == "2026-03-01T10:00:00Z"
    assert event["data"] == {
        "registration_id": "r-1",
        "partner_id": "p-1",
        "account_key": "domain:acme.example",
        "submitted_at": "2026-03-01T10:00:00Z",
        "program": "referral",
        "tier": "gold",
    }


async def test_redelivered_records_are_applied_once(settings: Settings) -> None:
    submissions = [encode(registration_submitted(f"r-{n}", "p-1",
                                                 domain=f"d{n}.example")) for n in range(5)]
    async with running(REGISTRATION, settings) as runtime:
        await enroll(settings)
        app = app_of(runtime)
        await eventually(lambda: app.stored(Partner.create_id("p-1")))
        await produce(settings, "registrations.requests.v1", submissions)
        first = await read_topic(settings, "registrations.v1", at_least=5)
        stored = stored_event_count(app)

    # A new consumer group has no committed Kafka offsets: the broker redelivers every
    # record from offset 0. Only the positions in the event store prevent a second apply.
    redelivered = replace(settings, consumer_group_prefix=settings.consumer_group_prefix + "x")
    async with running(REGISTRATION, redelivered) as runtime:
        app = app_of(runtime)
        await produce(settings, "registrations.requests.v1",
                      [encode(registration_submitted("r-new", "p-1", domain="new.example"))])
        after = await read_topic(settings, "registrations.v1", at_least=6)
        # r-new only: its submission as received, and its place in the partner's
        # registrations
        assert stored_event_count(app) == stored + 2

    assert len(first) == 5
    assert sorted(r.json()["data"]["registration_id"] for r in after) == sorted(
        [f"r-{n}" for n in range(5)] + ["r-new"]
    )


async def test_bad_input_goes_to_the_dead_letter_topic_and_the_next_is_processed(
    settings: Settings,
) -> None:
    missing_partner = registration_submitted("r-bad", "p-1")
    del missing_partner["data"]["partner_id"]
    float_amount = registration_submitted("r-float", "p-1")
    float_amount["data"]["estimated_value"]["amount"] = 100.5
    bad_values = [b"{not json", encode(missing_partner), b"\xff\xfe\x00binary",
                  encode(float_amount)]
    async with running(REGISTRATION, settings) as runtime:
        await enroll(settings)
        app = app_of(runtime)
        await eventually(lambda: app.stored(Partner.create_id("p-1")))
        await produce(settings, "registrations.requests.v1",
                      [*bad_values, encode(registration_submitted("r-good", "p-1"))])
        dead = await read_topic(settings, "dealreg.dlq.v1", at_least=4)
        [good] = await read_topic(settings, "registrations.v1", at_least=1)

    assert good.json()["data"]["registration_id"] == "r-good"
    letters = sorted((r.json() for r in dead), key=lambda e: e["data"]["offset"])
    for letter in letters:
        assert_valid_event(letter, "dealreg.dlq.v1")
    assert [e["type"] for e in letters] == ["dealreg.message.rejected.v1"] * 4
    assert all(e["source"] == "/dealreg/registration" for e in letters)
    data = [e["data"] for e in letters]
    assert [d["topic"] for d in data] == [settings.topic("registrations.requests.v1")] * 4
    assert [d["offset"] for d in data] == [0, 1, 2, 3]
    assert all(d["partition"] == 0 and d["key"] == "k" for d in data)
    assert "JSON" in data[0]["error"]
    assert data[0]["original"] == "{not json"
    assert "data.partner_id" in data[1]["error"]
    assert "UTF-8" in data[2]["error"]
    assert base64.b64decode(data[2]["original"]) == b"\xff\xfe\x00binary"
    assert "data.estimated_value.amount" in data[3]["error"]


async def _crash_then_recover(settings: Settings, crash_point: str, count: int) -> None:
    async with running(REGISTRATION, settings) as runtime:
        await enroll(settings)
        app = app_of(runtime)
        await eventually(lambda: app.stored(Partner.create_id("p-1")))
    await produce(settings, "registrations.requests.v1", [
        encode(registration_submitted(f"r-{n}", "p-1", domain=f"d{n}.example"))
        for n in range(count)
    ])
    await run_until_killed(settings, crash_point)


def _assert_each_received_once(records: list[Received], count: int) -> None:
    ids_by_registration: dict[str, set[str]] = defaultdict(set)
    for record in records:
        event = record.json()
        ids_by_registration[event["data"]["registration_id"]].add(event["id"])
    assert sorted(ids_by_registration) == sorted(f"r-{n}" for n in range(count))
    assert all(len(ids) == 1 for ids in ids_by_registration.values()), ids_by_registration


async def test_sigkill_between_store_commit_and_offset_commit(settings: Settings) -> None:
    await _crash_then_recover(settings, "after-store-commit", count=10)
    async with running(REGISTRATION, after_restart(settings)) as runtime:
        records = await read_topic(settings, "registrations.v1", at_least=10)
        # Every registration stored exactly once: its submission as received and its place
        # in the partner's registrations (§8) each, plus the partner and its registrations'
        # index.
        assert stored_event_count(app_of(runtime)) == 2 + 2 * 10
    _assert_each_received_once(records, 10)


async def test_outbox_relay_killed_mid_batch_resumes_without_loss(settings: Settings) -> None:
    await _crash_then_recover(settings, "mid-outbox-batch", count=12)
    async with running(REGISTRATION, after_restart(settings)) as runtime:
        records = await read_topic(settings, "registrations.v1", at_least=12)
        assert stored_event_count(app_of(runtime)) == 2 + 2 * 12
    # At least once on the wire, but a re-published event keeps its id.
    _assert_each_received_once(records, 12)
