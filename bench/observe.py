"""Reading what the stack publishes: decisions on ``registrations.v1``, payouts on
``payouts.v1``, with the wall-clock instant each became readable, and the checks that
every registration is decided once and every payout emitted exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

#: The events of a registration's way through the stack, by CloudEvents type: submitted →
#: received (registration service) → claim granted (conflict service) → approved.
HOPS = {
    "dealreg.registration.received.v1": "received",
    "dealreg.claim.granted.v1": "granted",
    "dealreg.registration.approved.v1": "approved",
}

DECISIONS = {
    "dealreg.registration.approved.v1": "approved",
    "dealreg.registration.rejected.v1": "rejected",
    "dealreg.registration.under_review.v1": "under_review",
}


@dataclass
class Observed:
    """What was read so far (only touched by the reading task)."""

    #: registration id → (decision, event id) of every decision read
    decisions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: registration id → monotonic instant its first decision was read
    decided_at: dict[str, float] = field(default_factory=dict)
    #: registration id → wall-clock instant its approval was read
    approved_wall: dict[str, float] = field(default_factory=dict)
    #: registration id → {hop: instant its event was produced} (Kafka record timestamps)
    hops: dict[str, dict[str, float]] = field(default_factory=dict)
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    #: deal id → payout ids of its payout.calculated for the close (no invoice)
    payouts: dict[str, set[str]] = field(default_factory=dict)
    #: invoice id → payout ids of the payout.calculated for that invoice (§11)
    invoice_payouts: dict[str, set[str]] = field(default_factory=dict)
    #: payout id → event ids of the payout.calculated that carried it
    payout_events: dict[str, set[str]] = field(default_factory=dict)
    #: deal or invoice id → monotonic instant its payout was read
    payout_at: dict[str, float] = field(default_factory=dict)
    withheld: Counter[str] = field(default_factory=Counter)
    withheld_deals: set[str] = field(default_factory=set)
    adjusted: int = 0
    #: ids of every event read, and how many were read again (republished)
    seen_ids: set[str] = field(default_factory=set)
    republished: int = 0
    records: int = 0

    def decided(self, ids: Iterable[str]) -> int:
        return sum(1 for rid in ids if rid in self.decisions)

    def double_decisions(self, ids: Iterable[str]) -> int:
        """Registrations with more than one distinct decision event."""
        return sum(1 for rid in ids if len({eid for _, eid in self.decisions.get(rid, [])}) > 1)

    def double_payouts(self) -> int:
        """Deals or invoices with more than one payout id, or payout ids carried by several
        events."""
        deals = sum(1 for ids in self.payouts.values() if len(ids) > 1)
        invoices = sum(1 for ids in self.invoice_payouts.values() if len(ids) > 1)
        events = sum(1 for ids in self.payout_events.values() if len(ids) > 1)
        return deals + invoices + events


class OutputWatcher:
    """Consumes ``registrations.v1``, ``conflicts.v1`` and ``payouts.v1`` from the beginning,
    without a group."""

    def __init__(self, bootstrap: str, topic_prefix: str) -> None:
        self.bootstrap = bootstrap
        self.topics = [f"{topic_prefix}registrations.v1", f"{topic_prefix}conflicts.v1",
                       f"{topic_prefix}payouts.v1"]
        self.observed = Observed()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_bytes=16 << 20,
                                    max_partition_fetch_bytes=4 << 20,
                                    # the local broker answers a fetch only when its max
                                    # wait is over: keep it short, so that reading does
                                    # not add to the measured latency
                                    fetch_max_wait_ms=5)
        await consumer.start()
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            for _ in range(100):
                numbers = consumer.partitions_for_topic(topic)
                if numbers:
                    partitions.extend(TopicPartition(topic, n) for n in sorted(numbers))
                    break
                await consumer.topics()
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"topic {topic} does not exist")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run())

    async def end_offsets(self, topics: Iterable[str], partitions: int) -> dict[tuple[str, int],
                                                                                 int]:
        """The next offset of every partition of ``topics`` (physical names)."""
        assert self._consumer is not None
        wanted = [TopicPartition(topic, n) for topic in topics for n in range(partitions)]
        ends = await self._consumer.end_offsets(wanted)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=20, max_records=10_000)
            if not batches:
                continue
            now, wall = time.monotonic(), time.time()
            for records in batches.values():
                for record in records:
                    self._note(record.value, now, wall, record.timestamp / 1000)
            self._changed.set()

    def _note(self, value: bytes | None, now: float, wall: float, produced: float) -> None:
        seen = self.observed
        seen.records += 1
        if not value:
            return
        event: dict[str, Any] = json.loads(value)
        event_id = str(event.get("id"))
        if event_id in seen.seen_ids:
            seen.republished += 1
            return
        seen.seen_ids.add(event_id)
        kind = str(event.get("type"))
        data: dict[str, Any] = event.get("data") or {}
        hop = HOPS.get(kind)
        if hop is not None:
            seen.hops.setdefault(str(data["registration_id"]), {}).setdefault(hop, produced)
        decision = DECISIONS.get(kind)
        if decision is not None:
            rid = str(data["registration_id"])
            seen.decisions.setdefault(rid, []).append((decision, event_id))
            seen.decided_at.setdefault(rid, now)
            if decision == "approved":
                seen.approved_wall.setdefault(rid, wall)
            elif decision == "rejected":
                seen.rejection_reasons[str(data.get("reason"))] += 1
        elif kind == "dealreg.payout.calculated.v1":
            deal, payout = str(data["deal_id"]), str(data["payout_id"])
            invoice = data.get("invoice_id")
            seen.payout_events.setdefault(payout, set()).add(event_id)
            if invoice is None:
                seen.payouts.setdefault(deal, set()).add(payout)
                seen.payout_at.setdefault(deal, now)
            else:
                seen.invoice_payouts.setdefault(str(invoice), set()).add(payout)
                seen.payout_at.setdefault(str(invoice), now)
        elif kind == "dealreg.payout.withheld.v1":
            seen.withheld[str(data.get("reason"))] += 1
            seen.withheld_deals.add(str(data.get("deal_id")))
        elif kind == "dealreg.payout.adjusted.v1":
            seen.adjusted += 1

    async def wait_for(self, done: Callable[[Observed], bool], timeout_s: float,
                       what: str) -> None:
        """Until ``done(observed)``; ``TimeoutError`` naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not done(self.observed):
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise what stopped the reader
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    async def settle(self, quiet_s: float = 1.0, limit_s: float = 10.0) -> None:
        """Until nothing new was read for ``quiet_s`` (late duplicates would show)."""
        end = time.monotonic() + limit_s
        last = self.observed.records
        while time.monotonic() < end:
            await asyncio.sleep(quiet_s)
            if self.observed.records == last:
                return
            last = self.observed.records
