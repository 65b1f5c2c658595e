"""A poll of several partitions is applied in one transaction, with a position per partition
(SQLite and PostgreSQL: each has its own recorder)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from psycopg import sql

from dealreg.bootstrap import REGISTRATION
from dealreg.events.schemas.inputs import PartnerEnrolled
from dealreg.processing import Inbound, InboundProcessor, InboundRecord, UnitOfWork
from dealreg.recorders import ChainedPostgresProcessRecorder
from dealreg.rejections import RejectedMessage
from dealreg.services.partners import Partner, enroll_partner
from dealreg.services.registration.app import RegistrationApplication
from dealreg.services.registration.domain import DealRegistration, PartnerRegistrations
from dealreg.services.registration.handlers import INBOUND
from dealreg.settings import Settings
from tests import conftest
from tests.support.events import encode, partner_enrolled, registration_submitted

REQUESTS = "registrations.requests.v1"
PARTNERS = "partners.v1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistrationApplication]:
    settings = Settings(data_dir=tmp_path)
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    if request.param == "postgres":
        settings = settings.with_overrides(database_url=conftest.test_database_url(),
                                           db_schema_prefix=prefix)
    application = REGISTRATION.build_application(settings)
    assert isinstance(application, RegistrationApplication)
    yield application
    application.close()
    if request.param == "postgres":
        conftest.drop_schemas(conftest.test_database_url(), prefix)


def processor(app: RegistrationApplication, inbound: Inbound = INBOUND) -> InboundProcessor:
    return InboundProcessor(app, inbound, logical_topic=lambda topic: topic,
                            tracking_prefix="kafka:test:")


def record(topic: str, partition: int, offset: int, event: dict[str, Any]) -> InboundRecord:
    return InboundRecord(topic, partition, offset, b"key", encode(event), 1_767_225_600_000)


def submission(partition: int, offset: int, registration_id: str,
               partner_id: str = "p-1") -> InboundRecord:
    return record(REQUESTS, partition, offset, registration_submitted(
        registration_id, partner_id, domain=f"{registration_id}.example"))


def status(app: RegistrationApplication, registration_id: str) -> str | None:
    registration = app.get_or_none(DealRegistration.create_id(registration_id))
    return registration.status if registration is not None else None


def positions(app: RegistrationApplication, *partitions: tuple[str, int]) -> list[int | None]:
    return [app.position(f"kafka:test:{topic}:{partition}") for topic, partition in partitions]


def stored_events(app: RegistrationApplication) -> int:
    return app.recorder.max_notification_id() or 0


def test_a_poll_of_several_partitions_is_one_refresh_and_one_commit(
    app: RegistrationApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = [record(PARTNERS, 0, 0, partner_enrolled("p-1")),
            submission(0, 0, "r-a"), submission(0, 1, "r-b"), submission(2, 0, "r-c")]
    commits: list[int] = []
    refreshes: list[int] = []
    real_record, real_refresh = app.record, app.refresh

    def counted_record(*args: Any) -> Any:
        commits.append(len(args) - 1)  # the positions stored with it
        return real_record(*args)

    def counted_refresh() -> None:
        refreshes.append(1)
        real_refresh()

    monkeypatch.setattr(app, "record", counted_record)
    monkeypatch.setattr(app, "refresh", counted_refresh)
    done = processor(app).process_poll(poll)

    assert {key: processed.applied for key, processed in done.items()} == {
        (PARTNERS, 0): 1, (REQUESTS, 0): 2, (REQUESTS, 2): 1}
    assert commits == [3]  # one transaction, a position for each partition
    assert len(refreshes) == 1
    assert positions(app, (PARTNERS, 0), (REQUESTS, 0), (REQUESTS, 2)) == [1, 2, 1]
    assert [status(app, r) for r in ("r-a", "r-b", "r-c")] == ["received"] * 3

    before = stored_events(app)
    again = processor(app).process_poll(poll)  # redelivered: nothing applied twice
    assert all(processed.applied == 0 for processed in again.values())
    assert stored_events(app) == before


def test_a_partition_already_stored_by_another_consumer_rolls_back_the_whole_poll(
    app: RegistrationApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: the poll's commit is refused on one partition's position, so none of
    it is stored, and the re-read applies the other partitions' records once."""
    processor(app).process([record(PARTNERS, 0, 0, partner_enrolled("p-1"))])
    poll = [submission(0, 0, "r-a"), submission(1, 0, "r-b")]
    app.recorder.insert_tracking(Tracking(f"kafka:test:{REQUESTS}:1", 1))  # another instance
    stale = iter([dict[str, int]()])  # this one read the positions before that commit
    real_positions = app.positions
    monkeypatch.setattr(app, "positions", lambda names: next(stale, None) or real_positions(names))
    before = stored_events(app)

    done = processor(app).process_poll(poll)

    assert done[REQUESTS, 0].applied == 1
    assert done[REQUESTS, 1].applied == 0
    assert status(app, "r-a") == "received"
    assert status(app, "r-b") is None  # the other instance's to apply
    assert positions(app, (REQUESTS, 0), (REQUESTS, 1)) == [1, 1]
    registration = app.get_or_none(DealRegistration.create_id("r-a"))
    index = app.get_or_none(PartnerRegistrations.create_id("p-1"))
    assert stored_events(app) - before == registration.version + index.version  # once


def test_positions_and_events_are_stored_all_or_none(app: RegistrationApplication) -> None:
    app.recorder.insert_tracking(Tracking("kafka:test:b", 3))
    partner = Partner(partner_id="p-1", name="P", program="referral", tier="gold",
                      enrolled_at=datetime(2026, 1, 1, tzinfo=UTC))

    with pytest.raises(IntegrityError):  # b's position is not ahead of the stored one
        app.record([partner], Tracking("kafka:test:a", 1), Tracking("kafka:test:b", 3))
    with pytest.raises(IntegrityError):  # the same with nothing but positions
        app.record([], Tracking("kafka:test:a", 1), Tracking("kafka:test:b", 2))

    assert app.position("kafka:test:a") is None
    assert stored_events(app) == 0
    app.record([], Tracking("kafka:test:a", 1), Tracking("kafka:test:b", 4))
    assert positions_named(app, "a", "b") == [1, 4]


def positions_named(app: RegistrationApplication, *names: str) -> list[int | None]:
    return [app.position(f"kafka:test:{name}") for name in names]


def test_a_deferred_record_holds_back_only_its_own_partition(
    app: RegistrationApplication,
) -> None:
    processor(app).process([record(PARTNERS, 0, 0, partner_enrolled("p-1"))])
    poll = [submission(0, 0, "r-orphan", partner_id="p-late"), submission(0, 1, "r-after"),
            submission(1, 0, "r-other")]

    done = processor(app).process_poll(poll, overdue=lambda _: False)

    assert done[REQUESTS, 0].applied == 0
    assert done[REQUESTS, 0].deferred == poll[0]
    assert done[REQUESTS, 1].applied == 1
    assert status(app, "r-other") == "received"
    assert status(app, "r-orphan") is None
    assert status(app, "r-after") is None
    assert positions(app, (REQUESTS, 0), (REQUESTS, 1)) == [None, 1]


def test_a_poisoned_record_is_dead_lettered_and_every_partition_goes_on(
    app: RegistrationApplication,
) -> None:
    def enroll_or_explode(unit: UnitOfWork, data: PartnerEnrolled) -> None:
        enroll_partner(unit, data)
        if data.partner_id.startswith("p-bad"):
            raise RuntimeError("boom")

    # More poisoned records in one poll than commit attempts: each is taken out in turn.
    poll = [record(PARTNERS, partition, offset, partner_enrolled(f"p-bad-{partition}-{offset}"))
            for partition in range(3) for offset in range(4)]
    poll += [record(PARTNERS, partition, 4, partner_enrolled(f"p-ok-{partition}"))
             for partition in range(3)]
    poll.sort(key=lambda r: (r.partition, r.offset))
    exploding = Inbound().on(PartnerEnrolled, enroll_or_explode)

    done = processor(app, exploding).process_poll(poll)

    assert all(processed.applied == 5 for processed in done.values())
    for partition in range(3):
        assert app.get_or_none(Partner.create_id(f"p-ok-{partition}")) is not None
        assert app.get_or_none(Partner.create_id(f"p-bad-{partition}-0")) is None
        dead: object = app.repository.get(RejectedMessage.create_id(PARTNERS, partition, 0))
        assert isinstance(dead, RejectedMessage)
        assert dead.error == "processing failed: RuntimeError: boom"
    assert positions(app, (PARTNERS, 0), (PARTNERS, 1), (PARTNERS, 2)) == [5, 5, 5]


def test_a_polls_positions_are_read_in_one_query(app: RegistrationApplication) -> None:
    processor(app).process_poll([record(PARTNERS, 0, 0, partner_enrolled("p-1")),
                                 record(PARTNERS, 2, 6, partner_enrolled("p-2"))])
    assert app.positions([f"kafka:test:{PARTNERS}:{n}" for n in range(3)]) == {
        f"kafka:test:{PARTNERS}:0": 1, f"kafka:test:{PARTNERS}:2": 7}


@pytest.mark.postgres
@pytest.mark.parametrize("app", ["postgres"], indirect=True)
def test_only_the_outbox_position_is_committed_without_waiting_for_the_disk(
    app: RegistrationApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost outbox position only publishes events again (same ids); a poll's events and
    input positions must never be lost once their effects are published."""
    recorder = app.recorder
    assert isinstance(recorder, ChainedPostgresProcessRecorder)
    settings: list[tuple[str, str]] = []
    real_insert = recorder._insert_tracking

    def insert_noting_the_setting(curs: Any, tracking: Tracking) -> None:
        curs.execute("SHOW synchronous_commit")
        settings.append((tracking.application_name, curs.fetchone()["synchronous_commit"]))
        real_insert(curs, tracking)

    monkeypatch.setattr(recorder, "_insert_tracking", insert_noting_the_setting)
    processor(app).process_poll([record(PARTNERS, 0, 0, partner_enrolled("p-1"))])
    app.record_publication(Tracking("outbox:test", 1))

    assert settings == [("kafka:test:partners.v1:0", "on"), ("outbox:test", "off")]
    assert app.position("outbox:test") == 1


@pytest.mark.postgres
@pytest.mark.parametrize("app", ["postgres"], indirect=True)
def test_storing_events_sends_no_notification(app: RegistrationApplication) -> None:
    """Nothing listens (the outbox and the projections read the log), and notifying
    transactions commit one at a time on PostgreSQL."""
    recorder = app.recorder
    assert isinstance(recorder, ChainedPostgresProcessRecorder)
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {0}").format(sql.Identifier(recorder.channel_name)))
        processor(app).process_poll([record(PARTNERS, 0, 0, partner_enrolled("p-1")),
                                     submission(0, 0, "r-a")])
        assert stored_events(app) > 0
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []


def test_a_position_moved_by_another_consumer_is_read_again_and_nothing_applies_twice(
    app: RegistrationApplication,
) -> None:
    """Each poll reads its partitions' positions: one remembered from an earlier poll could
    be behind another consumer's, and a later position would still be accepted."""
    applying = processor(app)
    applying.process_poll([record(PARTNERS, 0, 0, partner_enrolled("p-1")),
                           submission(0, 0, "r-a")])
    other = processor(app)  # another consumer, given the partition meanwhile
    other.process_poll([submission(0, 1, "r-b"), submission(0, 2, "r-c")])
    before = stored_events(app)

    done = applying.process_poll([submission(0, 1, "r-b"), submission(0, 2, "r-c"),
                                  submission(0, 3, "r-d")])  # fetched before it lost it

    assert done[REQUESTS, 0].applied == 1  # r-d only
    assert [status(app, r) for r in ("r-b", "r-c", "r-d")] == ["received"] * 3
    registration = app.get_or_none(DealRegistration.create_id("r-d"))
    index_events = 1  # the partner's open registrations, one more
    assert stored_events(app) - before == registration.version + index_events
    assert positions(app, (REQUESTS, 0)) == [4]
