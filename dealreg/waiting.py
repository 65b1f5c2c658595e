"""Waiting for something a process cannot work without (its event store), politely: retries
with exponential back-off, one warning that says what it waits for and a reminder per step,
and an end as soon as the process is told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the first retry comes after this long; each next one after twice as long, up to the cap
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0


class StoppedWhileWaitingError(Exception):
    """SIGINT or SIGTERM came before what the process waited for answered."""

    def __init__(self, what: str) -> None:
        super().__init__(f"stopped while waiting for {what}; nothing was started")
        self.what = what


async def until_it_answers(
    attempt: Callable[[], T],
    *,
    errors: tuple[type[BaseException], ...],
    what: str,
    service: str,
    stopping: asyncio.Event,
    give_up_after_s: float,
    on_retry: Callable[[], None] = lambda: None,
) -> T:
    """``attempt()`` (run in a thread) until it stops raising one of ``errors``; the last
    error once ``give_up_after_s`` has passed; :class:`StoppedWhileWaitingError` as soon as
    ``stopping`` is set."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return await asyncio.to_thread(attempt)
        except errors as error:
            if loop.time() + delay > deadline:
                raise
            on_retry()
            said = " ".join(str(error).split())
            log.warning(f"{'waiting' if delay == FIRST_DELAY_S else 'still waiting'} for {what}",
                        extra={"service": service, "error": said, "retry_in_s": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        if stopping.is_set():
            raise StoppedWhileWaitingError(what)
        delay = min(delay * 2, MAX_DELAY_S)
