"""Running dealreg in processes of their own: a service to SIGKILL at a chosen point, a
command, and the lines a process writes to stderr."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from dealreg.settings import Settings

REPO = Path(__file__).resolve().parent.parent.parent
#: The command line, run from the checkout by the interpreter running the tests.
DEALREG = [sys.executable, "-m", "dealreg.cli"]


def service_env(settings: Settings) -> dict[str, str]:
    """The environment of ``dealreg serve`` for ``settings``, with small batches."""
    small = settings.with_overrides(batch_max_records=4, outbox_batch_size=8, log_format="text")
    return small.child_environ()


def after_restart(settings: Settings) -> Settings:
    """The settings to restart a SIGKILLed service with.

    The bundled broker (Tansu) does not evict a SIGKILLed member from its consumer group
    within the session timeout, as Apache Kafka does: the partitions it held would stay
    unread. The restarted service therefore joins a new group. That changes nothing for
    dealreg, which resumes from the positions in its event store, not from the group's
    committed offsets.
    """
    return replace(settings, consumer_group_prefix=f"{settings.consumer_group_prefix}restart-")


async def run_until_killed(settings: Settings, crash_point: str,
                           service: str = "registration") -> None:
    """Run ``service`` with tests.support.crashing_service and wait for its SIGKILL."""
    crashing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.crashing_service", crash_point, service,
        cwd=REPO, env=service_env(settings),
    )
    returncode = await asyncio.wait_for(crashing.wait(), timeout=60)
    assert returncode == -signal.SIGKILL


async def run_dealreg(settings: Settings, *args: str, status: int = 0) -> tuple[str, str]:
    """``dealreg ARGS`` in a process of its own, with ``settings``; its stdout and stderr.
    Fails the test when the command's exit status is not ``status``."""
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dealreg.cli", *args, cwd=REPO, env=service_env(settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(command.communicate(), timeout=120)
    assert command.returncode == status, stderr.decode()
    return stdout.decode(), stderr.decode()


class StderrLines:
    """Drains a process's stderr in a thread, so the pipe never fills, and keeps the lines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self.lines: list[str] = []
        self._stream = process.stderr
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def wait_for(self, *texts: str, timeout_s: float = 60) -> str:
        """The first line that contains every one of ``texts``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if all(text in line for text in texts):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"{texts!r} not logged; stderr was:\n{''.join(self.lines)}")
