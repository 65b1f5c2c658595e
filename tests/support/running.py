"""Running services inside a test, and waiting for their effects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from dealreg.eventstore import ServiceApplication
from dealreg.runtime import Clock, ServiceDefinition, ServiceRuntime, wall_clock
from dealreg.services.payouts.domain import AccountFacts
from dealreg.settings import Settings

T = TypeVar("T")


@asynccontextmanager
async def running(
    definition: ServiceDefinition, settings: Settings
) -> AsyncIterator[ServiceRuntime]:
    runtime = ServiceRuntime(definition, settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


def app_of(runtime: ServiceRuntime) -> ServiceApplication:
    assert runtime.app is not None
    return runtime.app


async def payouts_know(payouts: ServiceApplication, registration_id: str,
                       key: str = "domain:acme.example") -> None:
    """Wait until the payouts service has read the approval of ``registration_id`` for the
    account ``key``: it reads registrations.v1 and crm.v1 in no particular order, and a
    scenario that needs the deal to arrive second waits for this first."""
    def known() -> bool:
        facts = payouts.stored(AccountFacts.create_id(key))
        return isinstance(facts, AccountFacts) and registration_id in facts.protections

    await eventually(known)


async def eventually(probe: Callable[[], T | None], *, timeout_s: float = 30.0) -> T:
    """The first non-None, non-False result of ``probe`` (run in a thread), or fail."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await asyncio.to_thread(probe)
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.05)


def stored_event_count(app: ServiceApplication) -> int:
    """How many events the store holds (not its greatest notification id: on PostgreSQL a
    transaction that lost a race to another consumer leaves a gap in the ids)."""
    count, position = 0, None
    while batch := app.recorder.select_notifications(start=position, limit=1000,
                                                     inclusive_of_start=position is None):
        count += len(batch)
        position = batch[-1].id
    return count


@asynccontextmanager
async def running_all(
    settings: Settings, *definitions: ServiceDefinition, clock: Clock = wall_clock
) -> AsyncIterator[list[ServiceRuntime]]:
    runtimes = [ServiceRuntime(definition, settings, clock) for definition in definitions]
    try:
        for runtime in runtimes:
            await runtime.start()
        yield runtimes
    finally:
        for runtime in reversed(runtimes):
            await runtime.stop()
