"""Applying batches of records to an event store: fast tests on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealreg.bootstrap import REGISTRATION
from dealreg.events.schemas.inputs import PartnerEnrolled
from dealreg.processing import Inbound, InboundProcessor, InboundRecord, UnitOfWork
from dealreg.rejections import RejectedMessage
from dealreg.services.partners import Partner, enroll_partner
from dealreg.services.registration.app import RegistrationApplication
from dealreg.services.registration.domain import DealRegistration
from dealreg.services.registration.handlers import INBOUND
from dealreg.settings import Settings
from tests.support.events import encode, partner_enrolled, registration_submitted

TOPIC = "registrations.requests.v1"


@pytest.fixture
def app(tmp_path: Path) -> RegistrationApplication:
    application = REGISTRATION.build_application(Settings(data_dir=tmp_path))
    assert isinstance(application, RegistrationApplication)
    return application


def processor(app: RegistrationApplication, inbound: Inbound | None = None) -> InboundProcessor:
    return InboundProcessor(app, inbound or INBOUND, logical_topic=lambda topic: topic,
                            tracking_prefix="kafka:test:")


def records(topic: str, values: list[bytes], *, first_offset: int = 0) -> list[InboundRecord]:
    return [InboundRecord(topic, 0, first_offset + n, b"key", value, 1_767_225_600_000)
            for n, value in enumerate(values)]


def registration(app: RegistrationApplication, registration_id: str) -> DealRegistration:
    aggregate: object = app.repository.get(DealRegistration.create_id(registration_id))
    assert isinstance(aggregate, DealRegistration)
    return aggregate


def rejection(app: RegistrationApplication, topic: str, offset: int) -> RejectedMessage:
    aggregate: object = app.repository.get(RejectedMessage.create_id(topic, 0, offset))
    assert isinstance(aggregate, RejectedMessage)
    return aggregate


def notification_types(app: RegistrationApplication) -> list[str]:
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    return [n.topic.rsplit(".", 1)[-1] for n in notifications]


def test_a_redelivered_batch_is_applied_once(app: RegistrationApplication) -> None:
    enrollment = records("partners.v1", [encode(partner_enrolled("p-1"))])
    batch = records(TOPIC, [encode(registration_submitted(f"r-{n}", "p-1",
                                                          domain=f"d{n}.example"))
                            for n in range(3)])
    assert processor(app).process(enrollment).applied == 1
    assert processor(app).process(batch).applied == 3
    stored = notification_types(app)

    assert processor(app).process(batch).applied == 0
    assert processor(app).process(batch[1:]).applied == 0
    assert notification_types(app) == stored
    assert app.position("kafka:test:registrations.requests.v1:0") == 3


def test_a_batch_overlapping_the_stored_position_applies_only_the_new_records(
    app: RegistrationApplication,
) -> None:
    processor(app).process(records("partners.v1", [encode(partner_enrolled("p-1"))]))
    values = [encode(registration_submitted(f"r-{n}", "p-1", domain=f"d{n}.example"))
              for n in range(4)]
    assert processor(app).process(records(TOPIC, values[:2])).applied == 2
    assert processor(app).process(records(TOPIC, values)).applied == 2
    statuses = [registration(app, f"r-{n}").status for n in range(4)]
    assert statuses == ["received"] * 4


def test_bad_input_is_recorded_as_a_rejection_and_the_batch_goes_on(
    app: RegistrationApplication,
) -> None:
    processor(app).process(records("partners.v1", [encode(partner_enrolled("p-1"))]))
    batch = records(TOPIC, [b"[1, 2", encode(registration_submitted("r-1", "p-1"))])
    assert processor(app).process(batch).applied == 2

    rejected = rejection(app, TOPIC, 0)
    assert rejected.original == "[1, 2"
    assert "JSON" in rejected.error
    assert registration(app, "r-1").status == "received"


def test_a_handler_that_raises_poisons_only_its_record(app: RegistrationApplication) -> None:
    calls: list[str] = []

    def enroll_or_explode(unit: UnitOfWork, data: PartnerEnrolled) -> None:
        partner_id = data.partner_id
        calls.append(partner_id)
        enroll_partner(unit, data)
        if partner_id == "p-2":
            raise RuntimeError("boom")

    batch = records("partners.v1", [encode(partner_enrolled(p)) for p in ("p-1", "p-2", "p-3")])
    exploding = Inbound().on(PartnerEnrolled, enroll_or_explode)
    assert processor(app, exploding).process(batch).applied == 3

    assert app.get_or_none(Partner.create_id("p-1")) is not None
    assert app.get_or_none(Partner.create_id("p-2")) is None  # its partial effects are gone
    assert app.get_or_none(Partner.create_id("p-3")) is not None
    poisoned = rejection(app, "partners.v1", 1)
    assert poisoned.error == "processing failed: RuntimeError: boom"
    assert calls.count("p-2") == 1
    assert calls.count("p-1") == 2


def test_changes_a_poisoned_record_made_to_a_cached_aggregate_are_not_kept(
    app: RegistrationApplication,
) -> None:
    """Cached aggregates are shared between batches, not copied: a record that changed one
    and then failed must leave it as stored."""
    processor(app).process(records("partners.v1", [encode(partner_enrolled("p-1"))]))
    assert app.get_or_none(Partner.create_id("p-1")) is not None  # cached

    def change_then_explode(unit: UnitOfWork, data: PartnerEnrolled) -> None:
        partner = unit.get(Partner, Partner.create_id("p-1"))
        assert partner is not None
        partner.change_tier(tier="platinum", effective_at=partner.enrolled_at)
        if data.partner_id == "p-2":
            raise RuntimeError("boom")

    batch = records("partners.v1", [encode(partner_enrolled(p)) for p in ("p-2", "p-3")],
                    first_offset=1)
    exploding = Inbound().on(PartnerEnrolled, change_then_explode)
    assert processor(app, exploding).process(batch).applied == 2

    partner = app.get_or_none(Partner.create_id("p-1"))
    assert [tier for _, tier in partner.tiers] == ["gold", "platinum"]  # once, by p-3 only
    assert partner.version == app.recorder.select_events(partner.id)[-1].originator_version


def test_a_concurrent_writer_that_got_there_first_wins_and_nothing_doubles(
    app: RegistrationApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = REGISTRATION.build_application(Settings(data_dir=tmp_path))
    assert isinstance(other, RegistrationApplication)
    batch = records("partners.v1", [encode(partner_enrolled(p)) for p in ("p-1", "p-2")])
    assert processor(other).process(batch).applied == 2  # the other instance commits first

    # This instance read the position before that commit: its own commit is refused
    # (IntegrityError on the tracking row and the aggregates), and the re-read skips it.
    stale_reads = iter([dict[str, int]()])
    real_positions = app.positions
    monkeypatch.setattr(app, "positions",
                        lambda names: next(stale_reads, None) or real_positions(names))
    assert processor(app).process(batch).applied == 0
    assert notification_types(app) == ["Enrolled", "Enrolled"]


def test_a_submission_waits_for_its_partner_then_decides_when_overdue(
    app: RegistrationApplication,
) -> None:
    batch = records(TOPIC, [encode(registration_submitted(f"r-{n}", "p-late",
                                                          domain=f"d{n}.example"))
                            for n in range(2)])
    waiting = processor(app).process(batch, overdue=lambda record: False)
    assert waiting.applied == 0
    assert waiting.deferred == batch[0]
    assert app.get_or_none(DealRegistration.create_id("r-0")) is None

    processor(app).process(records("partners.v1", [encode(partner_enrolled("p-late"))]))
    decided = processor(app).process(batch, overdue=lambda record: False)
    assert decided.applied == 2
    assert decided.deferred is None
    assert registration(app, "r-0").status == "received"


def test_records_before_a_deferred_one_are_stored_and_an_overdue_one_is_decided(
    app: RegistrationApplication,
) -> None:
    processor(app).process(records("partners.v1", [encode(partner_enrolled("p-1"))]))
    batch = records(TOPIC, [encode(registration_submitted("r-known", "p-1")),
                            encode(registration_submitted("r-orphan", "p-never"))])
    partial = processor(app).process(batch, overdue=lambda record: False)
    assert partial.applied == 1
    assert partial.deferred == batch[1]
    assert registration(app, "r-known").status == "received"

    overdue = processor(app).process(batch, overdue=lambda record: True)
    assert overdue.applied == 1
    orphan = registration(app, "r-orphan")
    assert orphan.status == "rejected"
    assert orphan.rejection == ("unknown_partner", "partner p-never is not enrolled")


def test_an_oversized_value_is_dead_lettered_truncated(app: RegistrationApplication) -> None:
    huge = b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert processor(app).process(records(TOPIC, [huge])).applied == 1
    rejected = rejection(app, TOPIC, 0)
    assert "over the limit of 1048576" in rejected.error
    assert "original truncated to its first 262144 bytes" in rejected.error
    assert rejected.original is not None
    assert len(rejected.original) == 256 * 1024
