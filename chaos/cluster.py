"""The three services as separate ``dealreg serve`` processes, and the faults done to them."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from chaos.postgres import OwnPostgres
from dealreg.bootstrap import SERVICE_NAMES
from dealreg.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def service_env(settings: Settings) -> dict[str, str]:
    return settings.with_overrides(log_format="json", log_level="WARNING").child_environ()


@dataclass
class ServiceProcess:
    service: str
    settings: Settings
    logs: Path
    instance: int = 0
    process: subprocess.Popen[bytes] | None = None
    generation: int = 0

    def start(self, *, new_group: bool = False) -> None:
        """Start (again). ``new_group``: the bundled broker keeps a SIGKILLed member in its
        consumer group, so a killed service comes back in a group of its own (it resumes
        from the positions in its store either way)."""
        if new_group:
            self.generation += 1
        settings = self.settings
        if self.generation:
            settings = settings.with_overrides(
                consumer_group_prefix=f"{settings.consumer_group_prefix}r{self.generation}-")
        log = (self.logs / f"{self.service}-{self.instance}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dealreg.cli", "serve", self.service], cwd=REPO,
            env=service_env(settings), stdout=log, stderr=log)
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    settings: Settings
    logs: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    extras: list[ServiceProcess] = field(default_factory=list)

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for service in SERVICE_NAMES:
            self.services[service] = ServiceProcess(service, self.settings, self.logs)
            self.services[service].start()

    def dead(self) -> list[str]:
        """Services whose process ended without being killed (a consumer that stopped)."""
        return [name for name, process in self.services.items()
                if process.process is not None and process.process.poll() not in (
                    None, -signal.SIGKILL)]

    def stop(self) -> None:
        for process in [*self.extras, *self.services.values()]:
            process.stop()


@dataclass
class FaultDriver:
    """For a bounded time, one fault after another at random (seeded): SIGKILL and restart,
    two instances in one group and one killed, a PostgreSQL restart, a pause past the
    session timeout."""

    cluster: Cluster
    postgres: OwnPostgres
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    cycle: list[Callable[[random.Random], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 (reproducible faults)

    async def run(self, seconds: float) -> None:
        """Faults for ``seconds``; a later call goes on with the same sequence."""
        rng = self.rng
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        faults = [self._kill, self._pair, self._postgres, self._pause]
        while loop.time() < deadline:
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            if not self.cycle:  # every kind of fault once per cycle, in a random order
                self.cycle = rng.sample(faults, len(faults))
            fault = self.cycle.pop()
            await fault(rng)
            self.counts[fault.__name__.strip("_")] = self.counts.get(
                fault.__name__.strip("_"), 0) + 1

    async def _kill(self, rng: random.Random) -> None:
        process = self.cluster.services[rng.choice(SERVICE_NAMES)]
        await asyncio.to_thread(process.kill)
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        process.start(new_group=True)

    async def _pair(self, rng: random.Random) -> None:
        service = rng.choice(SERVICE_NAMES)
        original = self.cluster.services[service]
        second = ServiceProcess(service, original.settings, self.cluster.logs,
                                instance=len(self.cluster.extras) + 1,
                                generation=original.generation)
        second.start()
        self.cluster.extras.append(second)
        await asyncio.sleep(rng.uniform(3.0, 6.0))  # both in one group, sharing partitions
        victim = rng.choice([original, second])
        await asyncio.to_thread(victim.kill)  # the survivor takes its partitions over
        self.cluster.extras.remove(second)
        self.cluster.services[service] = second if victim is original else original

    async def _postgres(self, rng: random.Random) -> None:
        await asyncio.to_thread(self.postgres.restart)

    async def _pause(self, rng: random.Random) -> None:
        process = self.cluster.services[rng.choice(SERVICE_NAMES)]
        process.signal(signal.SIGSTOP)
        await asyncio.sleep(self.cluster.settings.session_timeout_ms / 1000 * 1.5)
        process.signal(signal.SIGCONT)
