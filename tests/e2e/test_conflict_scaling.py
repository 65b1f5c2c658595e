"""Two conflict-service instances in one consumer group decide exactly as one instance does."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dealreg.bootstrap import CONFLICT
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.kafka import produce_keyed
from tests.support.running import running_all
from tests.support.watch import TopicWatch, watching

ACCOUNTS = [f"domain:account{n}.example" for n in range(12)]
START = datetime(2026, 3, 1, tzinfo=UTC)


def received_events(count: int, seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    """``registration.received`` as the registration service publishes them: keyed by
    account, in a fixed order, with submission times that sometimes run backwards."""
    rng = random.Random(seed)
    history = []
    for n in range(count):
        account = rng.choice(ACCOUNTS)
        submitted_at = START + timedelta(hours=rng.randint(0, 24 * 60))
        time = submitted_at.isoformat().replace("+00:00", "Z")
        history.append((account, ev.cloud_event("registration.received", f"r-{n}", time, {
            "registration_id": f"r-{n}", "partner_id": f"p-{rng.randint(0, 3)}",
            "account_key": account, "submitted_at": time, "program": "referral",
            "tier": rng.choice(["bronze", "gold", "platinum"]),
        }, source="/dealreg/registration")))
    return history


def decisions(watch: TopicWatch) -> dict[str, tuple[Any, ...]]:
    """What the conflict service decided for each registration."""
    decided: dict[str, tuple[Any, ...]] = {}
    disputes: dict[str, set[str]] = defaultdict(set)
    for event in watch.of("conflicts.v1"):
        data = event["data"]
        if event["type"] == "dealreg.claim.granted.v1":
            decided[data["registration_id"]] = ("granted",)
        elif event["type"] == "dealreg.claim.denied.v1":
            decided[data["registration_id"]] = ("denied", data["reason"],
                                                data["conflicting_registration_id"])
        elif event["type"] == "dealreg.dispute.opened.v1":
            disputes[data["dispute_id"]] |= set(data["registration_ids"])
    for dispute_id, members in disputes.items():
        for registration_id in members:
            decided.setdefault(registration_id, ("dispute", dispute_id))
    return decided


async def decide_all(settings: Settings, instances: int, count: int) -> dict[str, tuple[Any, ...]]:
    history = received_events(count)
    async with (
        running_all(settings, *[CONFLICT] * instances) as runtimes,
        watching(settings, "conflicts.v1", "dealreg.dlq.v1") as watch,
    ):
        await produce_keyed(settings, "registrations.v1",
                            [(account.encode(), ev.encode(event)) for account, event in history])
        await watch.wait(lambda: len(decisions(watch)) == count, timeout_s=90)
        consumers = [runtime.consumer_assignment() for runtime in runtimes]
    assert all(consumers), f"every instance should own partitions: {consumers}"
    assert watch.of("dealreg.dlq.v1") == []
    return decisions(watch)


async def test_two_instances_in_one_group_decide_as_one_does(
    postgres_settings: Settings,
) -> None:
    count = 150
    single = await decide_all(replace(postgres_settings, partitions=6), 1, count)
    pair_settings = replace(postgres_settings, partitions=6,
                            topic_prefix=postgres_settings.topic_prefix + "pair.",
                            db_schema_prefix=postgres_settings.db_schema_prefix + "p")
    try:
        pair = await decide_all(pair_settings, 2, count)
    finally:
        from tests.conftest import drop_schemas, test_database_url

        drop_schemas(test_database_url(), pair_settings.db_schema_prefix)

    assert len(single) == count
    assert {d[0] for d in single.values()} >= {"granted", "denied", "dispute"}
    assert pair == single
