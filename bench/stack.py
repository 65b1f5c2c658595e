"""The stack under test: ``dealreg up`` as a subprocess, its memory, its profile, its schemas."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from dealreg.bootstrap import SERVICE_NAMES
from dealreg.settings import Settings

#: Schemas of one stack: one per service and the read models'.
SCHEMA_SERVICES = (*SERVICE_NAMES, "projections")


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment of ``dealreg`` subprocesses for ``settings`` (the HTTP API of
    ``dealreg up`` on any free port: the benchmark does not call it)."""
    return settings.with_overrides(api_port=0).child_environ()


def dealreg_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dealreg.cli", *args]


def drop_schemas(url: str, prefix: str) -> list[str]:
    """Drop every schema whose name starts with ``prefix`` (the harness's own)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
                            (prefix,)).fetchall()
        names = [str(row[0]) for row in rows]
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(name)))
    return names


def database_settings(url: str) -> dict[str, str]:
    """The PostgreSQL settings that bound commit cost, as measured."""
    names = ("server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers",
             "max_connections")
    with psycopg.connect(url, autocommit=True) as conn:
        return {name: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
                          .fetchone()[0])  # type: ignore[index]
                for name in names}


class _ProcTree:
    """RSS and CPU time of a process and its children from ``/proc`` (Linux), for when
    psutil is not installed (``make test`` installs only the dev tools)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _children(self, pid: int) -> list[int]:
        found: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    found.extend(int(c) for c in (task / "children").read_text().split())
        return found

    def tree(self) -> list[int]:
        pids, index = [self.pid], 0
        while index < len(pids):
            pids.extend(self._children(pids[index]))
            index += 1
        return pids

    def rss(self) -> int:
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.page
        if not Path(f"/proc/{self.pid}").exists():
            raise ProcessLookupError(self.pid)
        return total

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / self.ticks


class MemorySampler:
    """Peak RSS of a process and its children, sampled every ``interval_s`` (psutil when
    installed, ``/proc`` otherwise)."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self._psutil: Any = None
        with contextlib.suppress(ImportError):
            self._psutil = importlib.import_module("psutil")
        self.process: Any = self._psutil.Process(pid) if self._psutil else None
        self._proc = _ProcTree(pid)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def _rss(self) -> int:
        if self._psutil is None:
            return self._proc.rss()
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(self._psutil.Error):
                total += int(proc.memory_info().rss)
        return total

    def _run(self) -> None:
        gone: tuple[type[BaseException], ...] = (OSError,)
        if self._psutil is not None:
            gone = (OSError, self._psutil.Error)
        while not self._stop.is_set():
            try:
                rss = self._rss()
            except gone:
                return
            self.peak_bytes = max(self.peak_bytes, rss)
            self.samples += 1
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / (1 << 20)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children so far (threads included;
        the bundled broker is not started by the stack under test)."""
        if self._psutil is None:
            return self._proc.cpu_seconds()
        total = 0.0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(self._psutil.Error):
                times = proc.cpu_times()
                total += float(times.user + times.system)
        return total


@dataclass
class Profiler:
    """``py-spy record`` on a running process, raw (collapsed-stack) output."""

    pid: int
    output: Path
    rate: int = 67
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @staticmethod
    def available() -> str | None:
        candidate = Path(sys.executable).parent / "py-spy"
        if candidate.exists():
            return str(candidate)
        return shutil.which("py-spy")

    def start(self) -> Profiler:
        binary = self.available()
        if binary is None:
            raise RuntimeError("py-spy is not installed (pip install '.[bench]')")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [binary, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format",
             "raw", "--output", str(self.output), "--nonblocking", "--subprocesses"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return self

    def stop(self) -> Path | None:
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return self.output if self.output.exists() else None


class StackProcess:
    """``dealreg up`` on the harness's broker and database; stopped with SIGINT."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.memory: MemorySampler | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> StackProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(dealreg_command("up"), env=stack_env(self.settings),
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.memory = MemorySampler(self.process.pid).start()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"dealreg up exited with code {self.process.returncode}; "
                               f"log tail:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 120.0) -> int | None:
        process, self.process = self.process, None
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        if self.memory is not None:
            self.memory.stop()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


def run_dealreg(settings: Settings, *args: str, timeout_s: float = 1_800) -> tuple[float, str]:
    """Run ``dealreg ARGS`` to completion; (wall seconds, stderr). Raises if it fails."""
    started = time.perf_counter()
    result = subprocess.run(dealreg_command(*args), env=stack_env(settings), capture_output=True,
                            timeout=timeout_s, check=False)
    seconds = time.perf_counter() - started
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0:
        raise RuntimeError(f"dealreg {' '.join(args)} failed ({result.returncode}): {stderr}")
    return seconds, stderr


def profile_dealreg(settings: Settings, output: Path, *args: str,
                    timeout_s: float = 1_800) -> Path | None:
    """Run ``dealreg ARGS`` under ``py-spy record`` (raw output); the profile, if written."""
    binary = Profiler.available()
    if binary is None:
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([binary, "record", "--rate", "67", "--format", "raw", "--output",
                    str(output), "--nonblocking", "--", *dealreg_command(*args)],
                   env=stack_env(settings), capture_output=True, timeout=timeout_s, check=False)
    return output if output.exists() else None
