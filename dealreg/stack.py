"""Running services in this process: ``dealreg up`` (all three) and ``dealreg serve NAME`` (one)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from dealreg.local_broker import LocalBroker
from dealreg.runtime import ServiceDefinition, ServiceRuntime
from dealreg.settings import Settings

log = logging.getLogger(__name__)


#: Something that runs beside the services (the HTTP API) with their settings (on the local
#: broker, when one was started) until the event is set.
Companion = Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]]


async def run_services(
    settings: Settings,
    definitions: Sequence[ServiceDefinition],
    *,
    start_local_broker: bool,
    stop: asyncio.Event | None = None,
    alongside: Sequence[Companion] = (),
) -> None:
    """Run ``definitions`` until SIGINT/SIGTERM (or ``stop``), then stop without loss.
    ``alongside`` run once the services have started; one that ends (or fails) stops
    everything, and its failure is raised once the services have stopped."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    broker = LocalBroker(port=settings.local_broker_port) if start_local_broker else None
    if broker is not None:
        await asyncio.to_thread(broker.start)
        settings = settings.with_overrides(kafka_bootstrap=broker.bootstrap)
    runtimes = [ServiceRuntime(definition, settings) for definition in definitions]
    companions: list[asyncio.Task[None]] = []
    try:
        for runtime in runtimes:
            await runtime.start()
        for companion in alongside:
            companions.append(asyncio.create_task(companion(settings, stop)))
            companions[-1].add_done_callback(lambda _: stop.set())
        names = ", ".join(definition.name for definition in definitions)
        where = "local broker" if broker else "Kafka"
        print(
            f"dealreg up: {names} | {where} at {settings.bootstrap} | "
            f"events in {settings.store_description()} | Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
        print("dealreg: stopping, publishing what is stored…", file=sys.stderr, flush=True)
    finally:
        stop.set()
        ended = await asyncio.gather(*companions, return_exceptions=True)
        for runtime in reversed(runtimes):
            await runtime.stop()
        if broker is not None:
            broker.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    for result in ended:
        if isinstance(result, BaseException):
            raise result
