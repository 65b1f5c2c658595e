"""Running services in this process: ``dealreg up`` (all three) and ``dealreg serve NAME`` (one)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from dealreg.collector import collect_less_often
from dealreg.drain import LOCAL_BROKER_WARNING, StopSignals, drain
from dealreg.health import HealthEndpoint
from dealreg.lag import InputEnds, stack_remaining, stack_topics
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
    """Run ``definitions`` until SIGINT/SIGTERM (or ``stop``), then stop without loss (on the
    local broker, after draining the input: ``dealreg.drain``). ``alongside`` run once the
    services have started; one that ends (or fails) stops everything, and its failure is
    raised once the services have stopped. The process serves ``/healthz``, ``/readyz`` and
    ``/metrics`` meanwhile (``dealreg.health``)."""
    collect_less_often()
    signals = StopSignals(stop)
    stop = signals.requested
    broker = LocalBroker(port=settings.local_broker_port) if start_local_broker else None
    with signals:
        if broker is not None:
            await asyncio.to_thread(broker.start)
            settings = settings.with_overrides(kafka_bootstrap=broker.bootstrap)
            print(LOCAL_BROKER_WARNING, file=sys.stderr, flush=True)
        runtimes = [ServiceRuntime(definition, settings) for definition in definitions]
        endpoint = HealthEndpoint(settings.metrics_host, settings.metrics_port)
        endpoint.services.extend(runtimes)
        await endpoint.start()
        companions: list[asyncio.Task[None]] = []
        try:
            await _start_all(runtimes, stop)
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
            if broker is not None:
                await _drain(settings, runtimes, signals.forced)
            print("dealreg: stopping, publishing what is stored…", file=sys.stderr, flush=True)
        finally:
            stop.set()
            ended = await asyncio.gather(*companions, return_exceptions=True)
            for runtime in reversed(runtimes):
                await runtime.stop()
            await endpoint.stop()
            if broker is not None:
                broker.stop()
    for result in ended:
        if isinstance(result, BaseException):
            raise result


async def _start_all(runtimes: Sequence[ServiceRuntime], stop: asyncio.Event) -> None:
    """Start every runtime; SIGINT or SIGTERM meanwhile ends a wait for a store
    (:class:`~dealreg.waiting.StoppedWhileWaitingError`)."""

    async def interrupt_when_asked() -> None:
        await stop.wait()
        for runtime in runtimes:
            if runtime.app is None:
                runtime.interrupt()

    interrupting = asyncio.create_task(interrupt_when_asked())
    try:
        for runtime in runtimes:
            await runtime.start()
    finally:
        interrupting.cancel()


async def _drain(settings: Settings, runtimes: Sequence[ServiceRuntime],
                 forced: asyncio.Event) -> None:
    services = {runtime.definition: runtime.app for runtime in runtimes
                if runtime.app is not None}
    async with InputEnds(settings, stack_topics(settings, services)) as ends:
        await drain(partial(stack_remaining, ends, settings, runtimes[0].cluster_id, services),
                    limit_s=settings.drain_seconds, forced=forced)
