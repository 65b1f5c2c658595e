"""Stopping ``dealreg up`` on the bundled broker without losing input.

The bundled broker keeps its log in memory: what the services have not read when it stops
is gone. So the first SIGINT or SIGTERM does not stop the services at once: they go on
until every input partition has been read to its end and stored, and every stored event
published (a progress line on stderr counts down what remains), or until
``DEALREG_DRAIN_SECONDS`` have passed; then they stop. A second signal stops them at once
and says how many records are lost. With an external Kafka nothing is lost by stopping
(the services resume from their stored positions), so nothing is drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: how often the progress line is brought up to date
PROGRESS_INTERVAL_S = 0.25
#: how often it is written again when stderr is not a terminal (a log)
LOG_INTERVAL_S = 1.0

LOCAL_BROKER_WARNING = (
    "dealreg: warning: the bundled broker keeps its log in memory: input not yet consumed "
    "dies with it. Ctrl-C first reads and stores every input record (a second Ctrl-C skips "
    "that); the stores survive, the broker's topics do not; with an external Kafka "
    "(--kafka) nothing is lost")


class StopSignals:
    """SIGINT and SIGTERM of this process: the first sets ``requested``, the next ones set
    ``forced``."""

    def __init__(self, requested: asyncio.Event | None = None) -> None:
        self.requested = requested or asyncio.Event()
        self.forced = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _received(self) -> None:
        if self.requested.is_set():
            self.forced.set()
        self.requested.set()

    def __enter__(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self._received)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None
        for signum in STOP_SIGNALS:
            self._loop.remove_signal_handler(signum)


#: (input records not stored yet, stored events not published yet) of every service
Remaining = Callable[[], Awaitable[tuple[int, int]]]


async def drain(remaining: Remaining, *, limit_s: float, forced: asyncio.Event) -> int:
    """Wait until nothing remains (``remaining()`` is (0, 0)), ``limit_s`` have passed or
    ``forced`` is set, showing what remains on stderr; the input records lost (not stored
    when it ended). Stored events not published yet are not lost: the services publish them
    again at their next start."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    unread, unpublished = await remaining()
    terminal, shown_at = sys.stderr.isatty(), None
    while unread + unpublished > 0 and not forced.is_set():
        if terminal or shown_at is None or loop.time() - shown_at >= LOG_INTERVAL_S:
            shown_at = loop.time()  # a line that changes on a terminal, a line a second in logs
            line = (f"dealreg: draining before stopping: {unread} input record(s) to store, "
                    f"{unpublished} event(s) to publish (Ctrl-C again stops now)")
            print("\r" + line + "   " if terminal else line, end="" if terminal else "\n",
                  file=sys.stderr, flush=True)
        if loop.time() >= deadline:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(forced.wait(), PROGRESS_INTERVAL_S)
        unread, unpublished = await remaining()
    if terminal and shown_at is not None:
        print(file=sys.stderr, flush=True)  # ends the progress line
    if unread == 0:
        print("dealreg: drained: every input record read and stored", file=sys.stderr,
              flush=True)
    else:
        why = ("stopped at once (second Ctrl-C)" if forced.is_set() else
               f"DEALREG_DRAIN_SECONDS ({limit_s:g} s) passed")
        print(f"dealreg: {why}: {unread} input record(s) not stored are lost with the "
              "bundled broker", file=sys.stderr, flush=True)
    return unread
