"""``dealreg up --processes``: each service, the projections follower and the HTTP API in a
process of its own.

One Python process computes on one core at a time (the GIL), and ``dealreg up`` is
CPU-bound in Python long before PostgreSQL is busy. The services share nothing but Kafka
and their event stores, so they run as ``dealreg serve NAME`` children, as in production
(one process per service), plus ``dealreg projections follow`` and ``dealreg api``.

The parent starts the bundled broker (unless Kafka is configured), creates the topics and
every store's tables once, so that children starting together never race to create the
same tables, and runs the children with ``DEALREG_CREATE_TABLES=false``. A child that dies
is started again: it resumes from the positions in its store, so nothing is lost and
nothing applied twice. SIGINT or SIGTERM stops every child (each publishes what it has
stored), then the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from dealreg.drain import LOCAL_BROKER_WARNING, StopSignals, drain
from dealreg.lag import InputEnds, stack_remaining, stack_topics
from dealreg.local_broker import LocalBroker, die_with_parent
from dealreg.runtime import STORE_WAIT_S, UNREACHABLE, ServiceDefinition
from dealreg.settings import Settings, env_name
from dealreg.topics import ensure_topics
from dealreg.waiting import until_it_answers

log = logging.getLogger(__name__)

#: A child that dies is started again after this many seconds.
RESTART_DELAY_S = 1.0
#: How long a stopping child may take to publish what it stored before it is killed.
STOP_TIMEOUT_S = 120.0


@dataclass
class Child:
    """One ``dealreg`` subcommand run as a child process, started again when it dies."""

    name: str
    arguments: Sequence[str]
    #: its own settings (e.g. the port of its metrics)
    environ: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0

    async def start(self, env: dict[str, str]) -> None:
        # In a session of its own: a terminal's Ctrl-C reaches the parent only, which drains
        # the input before it stops the children (``dealreg.drain``).
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dealreg.cli", *self.arguments, env=env | self.environ,
            preexec_fn=die_with_parent, start_new_session=True)
        log.info("process started", extra={"child": self.name, "pid": self.process.pid,
                                           "restarts": self.restarts})

    async def stop(self) -> int | None:
        process = self.process
        if process is None or process.returncode is not None:
            return process.returncode if process else None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("process did not stop in time; killed", extra={"child": self.name})
            process.kill()
            return await process.wait()


def metrics_port(settings: Settings, index: int) -> int:
    """The port of the health and metrics endpoint of the ``index``-th service process:
    ``DEALREG_METRICS_PORT`` + index (0: any free port for each)."""
    return settings.metrics_port + index if settings.metrics_port else 0


def children(settings: Settings, services: Sequence[str]) -> list[Child]:
    return [*(Child(name, ["serve", name],
                    {env_name("metrics_port"): str(metrics_port(settings, index))})
              for index, name in enumerate(services)),
            Child("projections", ["projections", "follow"]), Child("api", ["api"])]


async def run_processes(settings: Settings, *, services: Sequence[ServiceDefinition],
                        prepare_stores: Callable[[Settings], None], start_local_broker: bool,
                        stop: asyncio.Event | None = None) -> None:
    """Run the stack as child processes until SIGINT/SIGTERM (or ``stop``): ``dealreg serve``
    for each of ``services`` and the projections follower, after ``prepare_stores`` created
    every table once. On the local broker, the first signal drains the input first."""
    signals = StopSignals(stop)
    stop = signals.requested
    broker = LocalBroker(port=settings.local_broker_port) if start_local_broker else None
    running = children(settings, [service.name for service in services])
    with signals:
        try:
            if broker is not None:
                await asyncio.to_thread(broker.start)
                settings = settings.with_overrides(kafka_bootstrap=broker.bootstrap)
                print(LOCAL_BROKER_WARNING, file=sys.stderr, flush=True)
            cluster = await ensure_topics(settings)
            await until_it_answers(
                partial(prepare_stores, settings), errors=UNREACHABLE,
                what=f"the event stores ({settings.store_description()})", service="up",
                stopping=stop, give_up_after_s=STORE_WAIT_S)
            await _run_children(settings, running, stop,
                                "local broker" if broker else "Kafka")
            if broker is not None:
                await _drain(settings, cluster, services, signals.forced)
            print("dealreg: stopping, publishing what is stored…", file=sys.stderr,
                  flush=True)
        finally:
            await _stop_children(running)
            if broker is not None:
                broker.stop()


async def _run_children(settings: Settings, running: list[Child], stop: asyncio.Event,
                        where: str) -> None:
    env = settings.with_overrides(create_tables=False).child_environ()
    for child in running:
        await child.start(env)
    print(f"dealreg up: {', '.join(c.name for c in running)} in {len(running)} processes "
          f"| {where} at {settings.bootstrap} | events in {settings.store_description()} "
          "| Ctrl-C stops", file=sys.stderr, flush=True)
    await _supervise(running, env, stop)


async def _stop_children(running: list[Child]) -> None:
    codes = await asyncio.gather(*(child.stop() for child in running))
    for child, code in zip(running, codes, strict=True):
        if code not in (None, 0):
            log.warning("process stopped with an error",
                        extra={"child": child.name, "exit_code": code})


async def _drain(settings: Settings, cluster: str, services: Sequence[ServiceDefinition],
                 forced: asyncio.Event) -> None:
    """Wait for the children to store their input, reading their stores from here."""
    reading = settings.with_overrides(create_tables=False)
    apps = {service: await asyncio.to_thread(service.build_application, reading)
            for service in services}
    try:
        async with InputEnds(settings, stack_topics(settings, services)) as ends:
            await drain(partial(stack_remaining, ends, settings, cluster, apps),
                        limit_s=settings.drain_seconds, forced=forced)
    finally:
        for app in apps.values():
            app.close()


async def _supervise(running: list[Child], env: dict[str, str], stop: asyncio.Event) -> None:
    """Wait for ``stop``; start again any child that exits meanwhile."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            exits = {asyncio.ensure_future(child.process.wait()): child for child in running
                     if child.process is not None and child.process.returncode is None}
            if not exits:
                return
            done, _ = await asyncio.wait([stopping, *exits], return_when=asyncio.FIRST_COMPLETED)
            for waiter in exits:
                waiter.cancel()
            for waiter in done:
                child = exits.get(waiter)
                if child is None or stop.is_set():
                    continue
                if waiter.result() == 0:  # stopped as asked (a terminal's Ctrl-C reaches all)
                    log.info("process stopped", extra={"child": child.name})
                    continue
                log.error("process exited; starting it again",
                          extra={"child": child.name, "exit_code": waiter.result(),
                                 "restarts": child.restarts + 1})
                await asyncio.sleep(RESTART_DELAY_S)
                child.restarts += 1
                if not stop.is_set():
                    await child.start(env)
    finally:
        stopping.cancel()
