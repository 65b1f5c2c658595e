"""Waiting for a store out of reach: exponential back-off up to a cap, one warning saying
what it waits for then a reminder per step, and an end as soon as the process is told to
stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from dealreg import waiting
from dealreg.waiting import StoppedWhileWaitingError, until_it_answers


class UnreachableError(Exception):
    pass


def failing(times: int) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise UnreachableError("connection refused")
        return "open"

    return calls, attempt


async def test_retries_back_off_to_a_cap_and_say_once_what_they_wait_for(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(waiting, "FIRST_DELAY_S", 0.01)
    monkeypatch.setattr(waiting, "MAX_DELAY_S", 0.04)
    calls, attempt = failing(5)
    retries: list[int] = []
    with caplog.at_level(logging.WARNING, logger="dealreg.waiting"):
        opened = await until_it_answers(
            attempt, errors=(UnreachableError,), what="the event store (here)", service="s",
            stopping=asyncio.Event(), give_up_after_s=60, on_retry=lambda: retries.append(1))
    assert opened == "open"
    assert len(calls) == 6
    assert len(retries) == 5
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["waiting for the event store (here)"] + [
        "still waiting for the event store (here)"] * 4
    delays = [record.__dict__["retry_in_s"] for record in caplog.records]
    assert delays == [0.01, 0.02, 0.04, 0.04, 0.04]


async def test_it_gives_up_with_the_error_after_the_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "FIRST_DELAY_S", 0.01)
    _, attempt = failing(1000)
    with pytest.raises(UnreachableError, match="refused"):
        await until_it_answers(attempt, errors=(UnreachableError,), what="x", service="s",
                               stopping=asyncio.Event(), give_up_after_s=0.2)


async def test_a_stop_ends_the_wait_at_once() -> None:
    _, attempt = failing(1000)
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stopping.set)
    started = asyncio.get_running_loop().time()
    with pytest.raises(StoppedWhileWaitingError, match="stopped while waiting for the store"):
        await until_it_answers(attempt, errors=(UnreachableError,), what="the store", service="s",
                               stopping=stopping, give_up_after_s=600)
    assert asyncio.get_running_loop().time() - started < 5  # not the next retry's 1 s + …
