"""The aggregate cache of two processes on one store: each batch sees what the other wrote
before it started (after ``refresh``), and a write from a stale aggregate is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from dealreg.bootstrap import REGISTRATION
from dealreg.recorders import ChainedRecorder
from dealreg.services.partners import Partner
from dealreg.settings import Settings

ENROLLED = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 2, 1, tzinfo=UTC)


def test_a_process_sees_what_another_stored_once_refreshed(settings: Settings) -> None:
    first = REGISTRATION.build_application(settings)
    second = REGISTRATION.build_application(settings)
    partner_id = Partner.create_id("p-1")
    assert first.get_or_none(partner_id) is None  # known missing: no query

    second.record([Partner(partner_id="p-1", name="P", program="referral", tier="gold",
                           enrolled_at=ENROLLED)], Tracking("t", 1))
    assert first.get_or_none(partner_id) is None  # not yet: as of its last refresh
    first.refresh()
    cached = first.get_or_none(partner_id)
    assert cached is not None
    assert cached.tiers[-1][1] == "gold"

    changed = second.get_or_none(partner_id)
    changed.change_tier(tier="platinum", effective_at=LATER)
    second.record([changed], Tracking("t", 2))
    stale = first.get_or_none(partner_id)
    assert stale.tiers[-1][1] == "gold"  # cached, and the batch started before the change
    stale.change_tier(tier="silver", effective_at=LATER)
    with pytest.raises(IntegrityError):  # the stale write fails on its version
        first.record([stale], Tracking("t", 3))
    first.refresh()
    assert first.get_or_none(partner_id).tiers[-1][1] == "platinum"
    first.close()
    second.close()


def test_without_a_cache_every_read_goes_to_the_store(tmp_path: object) -> None:
    settings = Settings(data_dir=tmp_path, aggregate_cache_size=0)  # type: ignore[arg-type]
    first = REGISTRATION.build_application(settings)
    second = REGISTRATION.build_application(settings)
    second.record([Partner(partner_id="p-1", name="P", program="referral", tier="gold",
                           enrolled_at=ENROLLED)], Tracking("t", 1))
    assert first.get_or_none(Partner.create_id("p-1")) is not None
    first.close()
    second.close()


def test_what_a_process_saved_before_its_first_lookup_is_not_served_stale(
        settings: Settings) -> None:
    first = REGISTRATION.build_application(settings)
    second = REGISTRATION.build_application(settings)
    partner_id = Partner.create_id("p-1")
    first.record([Partner(partner_id="p-1", name="P", program="referral", tier="gold",
                          enrolled_at=ENROLLED)], Tracking("t", 1))  # cached, ids not read
    changed = second.get_or_none(partner_id)
    changed.change_tier(tier="platinum", effective_at=LATER)
    second.record([changed], Tracking("t", 2))

    assert first.get_or_none(partner_id).tiers[-1][1] == "platinum"
    first.close()
    second.close()


def test_a_batch_reads_the_aggregates_it_is_about_to_use_in_one_query(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = REGISTRATION.build_application(settings)
    reader = REGISTRATION.build_application(settings)
    ids = [Partner.create_id(f"p-{n}") for n in range(3)]
    partners = [Partner(partner_id=f"p-{n}", name="P", program="referral", tier="gold",
                        enrolled_at=ENROLLED) for n in range(3)]
    partners[1].change_tier(tier="platinum", effective_at=LATER)
    writer.record(partners, Tracking("t", 1))
    assert reader.get_or_none(ids[0]) is not None  # cached one by one; ids known

    def one_by_one(*args: object, **kwargs: object) -> None:
        raise AssertionError("an aggregate was read on its own")

    monkeypatch.setattr(reader.recorder, "select_events", one_by_one)
    assert reader.prefetch([*ids, Partner.create_id("unknown")]) == 2  # not the cached one
    assert reader.get_or_none(ids[1]).tiers[-1][1] == "platinum"
    assert reader.get_or_none(ids[2]).tiers[-1][1] == "gold"
    assert reader.prefetch(ids) == 0
    writer.close()
    reader.close()


def test_a_batch_is_stored_in_order_and_each_event_learns_its_position(
        settings: Settings) -> None:
    app = REGISTRATION.build_application(settings)
    partners = [Partner(partner_id=f"p-{n}", name="P", program="referral", tier="gold",
                        enrolled_at=ENROLLED) for n in range(50)]
    for partner in partners[::3]:
        partner.change_tier(tier="platinum", effective_at=LATER)
    recordings = app.record(partners, Tracking("t", 1))
    stored = app.recorder.select_notifications(start=1, limit=100)
    assert [(n.id, n.originator_id, n.originator_version) for n in stored] == [
        (r.notification.id, r.domain_event.originator_id, r.domain_event.originator_version)
        for r in recordings]
    assert len(stored) == 50 + 17
    app.close()


def test_a_refresh_does_not_read_back_what_the_process_just_stored(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own events are in its cache already; anything another process stored meanwhile
    is still read, whether it came before or after them."""
    first = REGISTRATION.build_application(settings)
    second = REGISTRATION.build_application(settings)
    ids = [Partner.create_id(f"p-{n}") for n in range(4)]
    assert first.get_or_none(ids[0]) is None  # ids read: refreshes from here on
    read: list[tuple[int, int]] = []
    assert isinstance(first.recorder, ChainedRecorder)
    real_changes = first.recorder.select_changes

    def counted(after: int, until: int, limit: int) -> Any:
        read.append((after, until))
        return real_changes(after, until, limit)

    def partner(n: int) -> Partner:
        return Partner(partner_id=f"p-{n}", name="P", program="referral", tier="gold",
                       enrolled_at=ENROLLED)

    def head() -> int:
        return first.recorder.max_notification_id() or 0

    monkeypatch.setattr(first.recorder, "select_changes", counted)
    first.record([partner(0)], Tracking("a", 1))
    first.refresh()
    assert read == []  # nothing but its own write since the last refresh

    refreshed = head()
    second.record([partner(1)], Tracking("b", 1))  # another process, then this one again
    changed = first.get_or_none(ids[0])
    changed.change_tier(tier="platinum", effective_at=LATER)
    first.record([changed], Tracking("a", 2))
    first.refresh()
    assert read == [(refreshed, head())]  # a gap before its write: the range is read
    assert first.get_or_none(ids[1]) is not None

    first.record([partner(2)], Tracking("a", 3))  # its own, then another process's
    refreshed = head()
    second.record([partner(3)], Tracking("b", 2))
    first.refresh()
    assert read[1:] == [(refreshed, head())]
    assert first.get_or_none(ids[3]) is not None
    assert first.get_or_none(ids[0]).tiers[-1][1] == "platinum"
    first.close()
    second.close()
