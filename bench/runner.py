"""The benchmark's phases on one stack: raw limits, end-to-end, payouts, latency, rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.observe import Observed, OutputWatcher
from bench.profile import format_summary, summarize
from bench.raw import Rate, kafka_consume, log_read, recorder_writes
from bench.stack import Profiler, StackProcess, drop_schemas, profile_dealreg, run_dealreg
from bench.workload import (
    Message,
    Registration,
    Workload,
    build_workload,
    deal_closed,
    latency_registration,
    registration_submitted,
    subscription_invoiced,
    validate,
)
from dealreg.bootstrap import definitions, service_stores
from dealreg.events.schemas import CLOUDEVENTS_CONTENT_TYPE
from dealreg.eventstore import ServiceApplication
from dealreg.local_broker import LocalBroker
from dealreg.projections import all_projections
from dealreg.projections.runner import Projector
from dealreg.projections.store import ReadStore
from dealreg.runtime import backlog
from dealreg.settings import Settings
from dealreg.topics import ensure_topics

HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Phases:
    raw: bool = True
    payouts: bool = True
    latency: bool = True
    rebuild: bool = True


@dataclass(frozen=True)
class RunOptions:
    registrations: int
    deals: int
    rate: float
    duration_s: float
    #: the offered load below capacity, whose latency has a target (``latency_200_*``)
    calm_rate: float
    partners: int
    base: Settings
    work_dir: Path
    profile: bool = False
    stall_s: float = 180.0


@dataclass
class StackResult:
    label: str
    registrations: int
    figures: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, Any] = field(default_factory=dict)


async def publish(producer: AIOKafkaProducer, settings: Settings,
                  messages: Sequence[Message]) -> None:
    """Produce ``messages`` without awaiting each acknowledgement, then await them all."""
    futures = [await producer.send(settings.topic(m.topic), value=m.value, key=m.key,
                                   headers=HEADERS) for m in messages]
    await asyncio.gather(*futures)


def bulk_producer(bootstrap: str, *, linger_ms: int = 20) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=linger_ms,
                            max_batch_size=512 << 10, max_request_size=4 << 20)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=1000, method="inclusive")[int(q * 10) - 1]


class StackBench:
    """One fresh stack (broker, schemas, topics) and the phases run on it."""

    def __init__(self, label: str, registrations: int, options: RunOptions,
                 phases: Phases) -> None:
        self.label = label
        self.n = registrations
        self.options = options
        self.phases = phases
        run = uuid.uuid4().hex[:8]
        self.run = run
        self.schema_prefix = f"bench_{run}_"
        self.result = StackResult(label, registrations)
        self.broker = LocalBroker(port=0)
        self.settings = options.base
        self.stack: StackProcess | None = None
        self.watcher: OutputWatcher | None = None
        self.workload: Workload | None = None
        self.cluster_id = ""
        self.apps: dict[str, ServiceApplication] = {}

    async def execute(self) -> StackResult:
        say(f"{self.label}: N={self.n}, run {self.run}")
        await asyncio.to_thread(self.broker.start)
        self.settings = self.options.base.with_overrides(
            kafka_bootstrap=self.broker.bootstrap,
            db_schema_prefix=self.schema_prefix,
            topic_prefix=f"bench-{self.run}.",
            consumer_group_prefix=f"bench-{self.run}-",
        )
        try:
            await self._phases()
        finally:
            if self.watcher is not None:
                await self.watcher.stop()
            if self.stack is not None:
                self.stack.stop()
            for app in self.apps.values():
                app.close()
            await asyncio.to_thread(self.broker.stop)
            dropped = await asyncio.to_thread(drop_schemas, self.settings.database_url,
                                              self.schema_prefix)
            say(f"{self.label}: dropped schemas {', '.join(sorted(dropped)) or '(none)'}")
        return self.result

    async def _phases(self) -> None:
        options, result = self.options, self.result
        work = self.workload = build_workload(self.run, self.n, partners=options.partners)
        validate(work.partner_messages)
        validate(work.registration_messages)
        kinds = Counter(r.kind for r in work.registrations)
        result.details["run"] = self.run
        result.details["workload"] = dict(kinds) | {"partners": options.partners}
        if self.phases.raw:
            await self._raw_writes([m.value for m in work.registration_messages])
        self.cluster_id = await ensure_topics(self.settings)
        self.stack = StackProcess(self.settings,
                                  options.work_dir / f"{self.label}-{self.run}.log").start()
        self.watcher = OutputWatcher(self.settings.bootstrap, self.settings.topic_prefix)
        await self.watcher.start()
        await self._ready()
        await self._end_to_end()
        if self.phases.raw:
            say(f"{self.label}: raw (a) aiokafka consume + json.loads of {self.n} inputs")
            rate = await kafka_consume(self.settings.bootstrap,
                                       self.settings.topic("registrations.requests.v1"),
                                       self.n + options.partners)
            result.figures["raw_kafka_consume_per_s"] = rate.per_s
        if self.phases.payouts:
            await self._caught_up()
            await self._payouts()
        if self.phases.latency:
            await self._settled()
            await self._latency(options.calm_rate, "latency_200")
            await self._caught_up()
            await self._latency(options.rate, "latency")
        stack = self.stack
        self.stack = None
        assert stack.memory is not None
        code = await asyncio.to_thread(stack.stop)
        result.figures["peak_rss_mb"] = stack.memory.peak_mb
        result.checks["stack_exit_code"] = code
        result.checks["stack_clean_exit"] = code == 0
        if self.phases.rebuild:
            await self._rebuild()

    async def _raw_writes(self, bodies: list[bytes]) -> None:
        batch = self.settings.batch_max_records
        say(f"{self.label}: raw (b) eventsourcing PostgreSQL recorder, {len(bodies)} "
            f"aggregates x 2 events, batches of {batch}")
        plain = await asyncio.to_thread(recorder_writes, self.settings, "rawplain", bodies,
                                        batch=batch, chained=False)
        chained = await asyncio.to_thread(recorder_writes, self.settings, "rawchained", bodies,
                                          batch=batch, chained=True)
        self.result.figures["raw_aggregate_writes_per_s"] = plain.per_s
        self.result.figures["raw_chained_aggregate_writes_per_s"] = chained.per_s

    async def _wait(self, done: Callable[[Observed], bool], what: str) -> None:
        """Until ``done``; fails when the stack died or nothing new came for ``stall_s``."""
        assert self.watcher is not None
        assert self.stack is not None
        last, since = -1, time.monotonic()
        while True:
            self.stack.check_alive()
            with contextlib.suppress(TimeoutError):
                await self.watcher.wait_for(done, 2.0, what)
                return
            if self.watcher.observed.records != last:
                last, since = self.watcher.observed.records, time.monotonic()
            elif time.monotonic() - since > self.options.stall_s:
                raise TimeoutError(f"{self.label}: no progress for {self.options.stall_s:.0f} s "
                                   f"waiting for {what}; where each service stands: "
                                   f"{await self._standing()}; stack log tail:\n"
                                   f"{self.stack.log_tail()}")

    async def _standing(self) -> dict[str, dict[str, int]]:
        """Each service's unread input records and stored events not yet published (what a
        stall report needs to say where the work stopped)."""
        standing = {}
        for name in definitions():
            unread, unpublished = await self._lags(name)
            standing[name] = {"unread_records": unread, "unpublished_events": unpublished}
        return standing

    async def _lags(self, name: str) -> tuple[int, int]:
        """``name``'s input records not yet stored, and its stored events not yet published."""
        assert self.watcher is not None
        definition = definitions()[name]
        if name not in self.apps:
            self.apps[name] = await asyncio.to_thread(definition.build_application,
                                                      self.settings)
        app = self.apps[name]
        topics = [self.settings.topic(topic) for topic in definition.input_topics]
        ends = await self.watcher.end_offsets(topics, self.settings.partitions)
        return await asyncio.to_thread(backlog, app, self.cluster_id, ends)

    async def _ready(self) -> None:
        """Partners enrolled and known: one probe registration per partner is decided."""
        work = self.workload
        assert work is not None
        say(f"{self.label}: enrolling {len(work.partner_messages)} partners, probing")
        producer = bulk_producer(self.settings.bootstrap)
        await producer.start()
        try:
            await publish(producer, self.settings, work.partner_messages)
            await asyncio.sleep(0.5)
            probes = [registration_submitted(p, seq=n) for n, p in enumerate(work.probes)]
            await publish(producer, self.settings, probes)
        finally:
            await producer.stop()
        ids = [p.registration_id for p in work.probes]
        started = time.monotonic()
        await self._wait(lambda seen: seen.decided(ids) == len(ids), "the probes")
        approved = sum(1 for rid in ids if self._decision(rid) == "approved")
        self.result.details["probes_approved"] = approved
        self.result.details["ready_s"] = round(time.monotonic() - started, 2)

    async def _until_done(self, remaining: Callable[[], Awaitable[str | None]]) -> float:
        """Until ``remaining`` says nothing is left (None), polling; the seconds it took.
        Fails when the stack died, or with what remains after ``stall_s``."""
        started = time.monotonic()
        while (left := await remaining()) is not None:
            assert self.stack is not None
            self.stack.check_alive()
            if time.monotonic() - started > self.options.stall_s:
                raise TimeoutError(f"{self.label}: {left}")
            await asyncio.sleep(0.2)
        return round(time.monotonic() - started, 2)

    async def _caught_up(self) -> None:
        """Until every service stored the position of the end of each of its input topics
        (e.g. payouts has read every approval before deals arrive)."""

        async def unread() -> str | None:
            for name in definitions():
                if (lag := (await self._lags(name))[0]) > 0:
                    return f"{name} still {lag} records behind"
            return None

        self.result.details.setdefault("catch_up_s", []).append(
            await self._until_done(unread))

    async def _settled(self) -> None:
        """Until the stack has nothing left of the phases before: every input stored, every
        stored event published and the projections follower caught up, so that the latency
        below capacity is measured on a stack below capacity, not on one still digesting
        the history of the run's other phases (``settle_s`` in the details)."""
        await self._caught_up()
        store = await asyncio.to_thread(ReadStore.open, self.settings)
        projector = Projector(store, self.apps)
        projections = list(all_projections().values())

        async def unfinished() -> str | None:
            unpublished = sum([(await self._lags(name))[1] for name in definitions()])
            lags = await asyncio.to_thread(projector.status, projections)
            behind = sum(lag.behind for lag in lags)
            if unpublished == 0 and behind == 0:
                return None
            return f"{unpublished} events unpublished and the projections {behind} events behind"

        try:
            self.result.details["settle_s"] = await self._until_done(unfinished)
        finally:
            store.close()

    def _decision(self, registration_id: str) -> str | None:
        assert self.watcher is not None
        decisions = self.watcher.observed.decisions.get(registration_id)
        return decisions[0][0] if decisions else None

    async def _end_to_end(self) -> None:
        work, stack, watcher = self.workload, self.stack, self.watcher
        assert work is not None
        assert stack is not None
        assert watcher is not None
        assert stack.memory is not None
        ids = [r.registration_id for r in work.registrations]
        base = len(watcher.observed.decisions)
        profiler = self._profiler("e2e")
        cpu_before = stack.memory.cpu_seconds()
        say(f"{self.label}: publishing {self.n} registrations up front")
        producer = bulk_producer(self.settings.bootstrap)
        await producer.start()
        started = time.monotonic()
        try:
            await publish(producer, self.settings, work.registration_messages)
        finally:
            await producer.stop()
        published = time.monotonic() - started
        say(f"{self.label}: published in {published:.1f} s; waiting for every decision")
        await self._wait(lambda seen: len(seen.decisions) >= base + len(ids), "every decision")
        seen = watcher.observed
        seconds = max(seen.decided_at[rid] for rid in ids) - started
        cpu = stack.memory.cpu_seconds() - cpu_before
        self._stop_profiler("e2e", profiler)
        outcome = Counter(f"{r.kind}:{self._decision(r.registration_id)}"
                          for r in work.registrations)
        result = self.result
        result.figures["e2e_registrations_per_s"] = self.n / seconds
        result.figures["e2e_seconds"] = seconds
        result.figures["cpu_ms_per_registration"] = 1000 * cpu / self.n
        result.details["e2e"] = {"publish_s": round(published, 2),
                                 "stack_cpu_s": round(cpu, 1),
                                 "stack_cpu_utilisation": round(cpu / seconds, 2),
                                 "decisions": dict(sorted(outcome.items())),
                                 "rejection_reasons": dict(seen.rejection_reasons)}
        result.checks["registrations_decided"] = seen.decided(ids)
        result.checks["registrations_expected"] = len(ids)
        result.checks["registrations_double_decided"] = seen.double_decisions(ids)
        distinct_ok = sum(1 for r in work.registrations if r.kind == "distinct"
                          and self._decision(r.registration_id) == "approved")
        result.checks["distinct_approved"] = distinct_ok
        result.checks["distinct_expected"] = sum(1 for r in work.registrations
                                                 if r.kind == "distinct")
        say(f"{self.label}: e2e {self.n} in {seconds:.1f} s = {self.n / seconds:,.0f}/s "
            f"(stack CPU {cpu / seconds:.2f} cores, {1000 * cpu / self.n:.2f} ms a registration)")

    def _profiler(self, phase: str) -> Profiler | None:
        if not self.options.profile or self.stack is None:
            return None
        if Profiler.available() is None:
            say("py-spy not installed: no profile")
            return None
        path = self.options.work_dir / f"profile-{self.label}-{phase}.txt"
        try:
            return Profiler(self.stack.pid, path).start()
        except (OSError, RuntimeError) as error:
            say(f"profiler did not start: {error}")
            return None

    def _stop_profiler(self, phase: str, profiler: Profiler | None) -> None:
        if profiler is None:
            return
        path = profiler.stop()
        if path is None:
            say(f"profiler wrote nothing for {phase}")
            return
        summary = summarize(path)
        summary["raw_file"] = str(path)
        self.result.profiles[phase] = summary
        say(format_summary(f"profile of dealreg up during {self.label} {phase}", summary, 12))

    def _approved(self, kind: str) -> list[Registration]:
        work = self.workload
        assert work is not None
        return [r for r in work.registrations
                if r.kind == kind and self._decision(r.registration_id) == "approved"]

    async def _payouts(self) -> None:
        """Won deals on approved registrations; each deal of an msp partner is followed by
        its first invoice (§11), which earns a payout of its own."""
        watcher, stack = self.watcher, self.stack
        assert watcher is not None
        assert stack is not None
        owners = self._approved("distinct")[: self.options.deals]
        messages, deal_ids, invoice_ids = [], [], []
        for i, owner in enumerate(owners):
            deal_id, closed_at = f"{self.run}-deal-{i}", owner.submitted_at + timedelta(hours=1)
            messages.append(deal_closed(deal_id, owner, closed_at, i))
            deal_ids.append(deal_id)
            if owner.program == "msp":
                invoice_ids.append(f"{self.run}-invoice-{i}")
                messages.append(subscription_invoiced(invoice_ids[-1], deal_id, closed_at, i))
        validate(messages)
        say(f"{self.label}: publishing {len(deal_ids)} won deals on approved registrations "
            f"and {len(invoice_ids)} invoices of msp partners' deals")
        profiler = self._profiler("payouts")
        cpu_before = stack.memory.cpu_seconds() if stack.memory else 0.0
        producer = bulk_producer(self.settings.bootstrap)
        await producer.start()
        started = time.monotonic()
        try:
            await publish(producer, self.settings, messages)
        finally:
            await producer.stop()
        seen = watcher.observed
        expected = deal_ids + invoice_ids

        def paid(observed: Observed) -> bool:
            return all(key in observed.payout_at for key in expected)

        await self._wait(paid, "every payout")
        seconds = max(seen.payout_at[key] for key in expected) - started
        cpu = (stack.memory.cpu_seconds() if stack.memory else 0.0) - cpu_before
        self._stop_profiler("payouts", profiler)
        await watcher.settle()
        result = self.result
        result.figures["payout_deals_per_s"] = len(deal_ids) / seconds
        result.figures["payout_seconds"] = seconds
        result.details["payouts"] = {"deals": len(deal_ids), "invoices": len(invoice_ids),
                                     "stack_cpu_s": round(cpu, 1)}
        result.checks["deals_expected"] = len(deal_ids)
        result.checks["deals_paid"] = sum(1 for d in deal_ids if d in seen.payouts)
        result.checks["invoices_expected"] = len(invoice_ids)
        result.checks["invoices_paid"] = sum(1 for i in invoice_ids if i in seen.invoice_payouts)
        result.checks["payouts_withheld"] = dict(seen.withheld)
        result.checks["payouts_adjusted"] = seen.adjusted
        result.checks["payouts_double"] = seen.double_payouts()
        say(f"{self.label}: payouts {len(deal_ids)} deals and {len(invoice_ids)} invoices in "
            f"{seconds:.1f} s = {len(deal_ids) / seconds:,.0f} deals/s")

    async def _latency(self, rate: float, key: str) -> None:
        """Submitted → approved readable, at ``rate`` registrations/s offered for the
        configured duration; figures ``<key>_p50_ms`` … and details and checks under
        ``key``."""
        work, watcher, stack = self.workload, self.watcher, self.stack
        assert work is not None
        assert watcher is not None
        assert stack is not None
        assert stack.memory is not None
        cpu_before = stack.memory.cpu_seconds()
        duration = self.options.duration_s
        total = int(rate * duration)
        say(f"{self.label}: latency at {rate:g}/s for {duration:g} s ({total} registrations)")
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.bootstrap, acks=1,
                                    linger_ms=0)
        await producer.start()
        profiler = self._profiler(key)
        sent: dict[str, float] = {}
        futures = []
        base = len(watcher.observed.decisions)
        late = 0.0
        try:
            start = time.monotonic()
            for i in range(total):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    late = max(late, -delay)
                wall = time.time()
                registration = latency_registration(work, key, i,
                                                    datetime.fromtimestamp(wall, UTC))
                message = registration_submitted(registration, seq=i)
                sent[registration.registration_id] = wall
                futures.append(await producer.send(
                    self.settings.topic(message.topic), value=message.value, key=message.key,
                    headers=HEADERS))
            offered_s = time.monotonic() - start
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        ids = list(sent)
        await self._wait(lambda seen: len(seen.decisions) >= base + len(ids),
                         "every latency registration decided")
        self._stop_profiler(key, profiler)
        cpu = stack.memory.cpu_seconds() - cpu_before
        seen = watcher.observed
        latencies = [1000 * (seen.approved_wall[rid] - sent[rid]) for rid in ids
                     if rid in seen.approved_wall] or [0.0]
        result = self.result
        for q in (50, 95, 99):
            result.figures[f"{key}_p{q}_ms"] = percentile(latencies, q)
        result.figures[f"{key}_max_ms"] = max(latencies)
        result.details[key] = {"offered": total, "offered_rate_per_s": total / offered_s,
                               "producer_max_lag_ms": round(1000 * late, 1),
                               "stack_cpu_ms_per_registration": round(1000 * cpu / total, 2),
                               "hops_p50_ms": hop_medians(seen, sent)}
        result.checks[f"{key}_approved"] = sum(1 for rid in ids if rid in seen.approved_wall)
        result.checks[f"{key}_expected"] = total
        say(f"{self.label}: latency at {rate:g}/s p50 {result.figures[f'{key}_p50_ms']:.0f} ms, "
            f"p99 {result.figures[f'{key}_p99_ms']:.0f} ms; medians by hop (ms): "
            + ", ".join(f"{hop} {ms:.0f}" for hop, ms in
                        result.details[key]["hops_p50_ms"].items()))

    async def _rebuild(self) -> None:
        say(f"{self.label}: dealreg projections rebuild")
        seconds, stderr = await asyncio.to_thread(run_dealreg, self.settings, "projections",
                                                  "rebuild")
        startup_s, _ = await asyncio.to_thread(run_dealreg, self.settings, "projections",
                                               "status")

        def read_logs() -> tuple[Rate, dict[str, int]]:
            with service_stores(self.settings) as apps:
                return log_read(apps)

        raw, heads = await asyncio.to_thread(read_logs)
        if self.options.profile:
            path = await asyncio.to_thread(
                profile_dealreg, self.settings,
                self.options.work_dir / f"profile-{self.label}-rebuild.txt",
                "projections", "rebuild")
            if path is not None:
                summary = summarize(path)
                summary["raw_file"] = str(path)
                self.result.profiles["rebuild"] = summary
                say(format_summary(f"profile of projections rebuild ({self.label})", summary,
                                   12))
        events = sum(heads.values())
        result = self.result
        result.figures["rebuild_events_per_s"] = events / seconds
        result.figures["rebuild_seconds"] = seconds
        result.figures["raw_log_read_per_s"] = raw.per_s
        result.details["rebuild"] = {
            "history_events": heads, "command_startup_s": round(startup_s, 2),
            "applied": [line.strip() for line in stderr.splitlines() if "rebuilt from" in line],
        }
        say(f"{self.label}: rebuild of {events} events in {seconds:.1f} s = "
            f"{events / seconds:,.0f}/s; raw log read {raw.per_s:,.0f}/s")


def hop_medians(seen: Observed, sent: dict[str, float]) -> dict[str, float]:
    """Where a registration's latency goes, from the Kafka timestamps of the events on its
    way: the registration service (submitted → received), the conflict service (→ claim
    granted), the registration service again (→ approved), and reading the approval."""
    steps: dict[str, list[float]] = {"registration": [], "conflict": [], "decision": [],
                                     "read": []}
    for rid, submitted in sent.items():
        hops, read = seen.hops.get(rid, {}), seen.approved_wall.get(rid)
        if read is None or len(hops) < len(steps) - 1:
            continue
        instants = [submitted, hops["received"], hops["granted"], hops["approved"], read]
        for name, (before, after) in zip(steps, itertools.pairwise(instants), strict=True):
            steps[name].append(1000 * (after - before))
    return {name: round(statistics.median(values), 1) for name, values in steps.items()
            if values}


def bench_settings(database_url: str) -> Settings:
    """The services' settings as configured (DEALREG_* of this environment or the defaults),
    on the benchmark's database, with logs at WARNING."""
    environ = {key: value for key, value in os.environ.items() if key.startswith("DEALREG_")
               and key not in ("DEALREG_DATABASE_URL", "DEALREG_KAFKA_BOOTSTRAP",
                               "DEALREG_DB_SCHEMA_PREFIX", "DEALREG_TOPIC_PREFIX")}
    environ.setdefault("DEALREG_LOG_LEVEL", "WARNING")
    return Settings.from_env(environ).with_overrides(database_url=database_url)
