"""Running dealreg: ``dealreg up`` (the whole stack), ``dealreg serve NAME`` (one service),
``dealreg api`` (the HTTP API), ``dealreg expire-due`` (the one-shot expiry) and
``dealreg lag`` (how far each service is behind its input)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import datetime
from functools import partial

from dealreg.bootstrap import (
    REGISTRATION,
    SERVICE_NAMES,
    SERVICES,
    chosen,
    prepare_stores,
)
from dealreg.cli.actions import fail
from dealreg.cli.projections import follow_projections
from dealreg.cli.stores import existing_application, existing_service_stores
from dealreg.events.schemas.values import format_utc
from dealreg.lag import InputEnds, cluster_id, service_lag, stack_topics
from dealreg.runtime import publish_stored, wall_clock
from dealreg.services.registration.expiry import ExpiryIndex
from dealreg.services.registration.expiry import expire_due as run_expiry
from dealreg.settings import Settings
from dealreg.stack import Companion, run_services
from dealreg.supervisor import run_processes
from dealreg.waiting import StoppedWhileWaitingError


async def up(settings: Settings) -> int:
    """Every service, the projections follower and the HTTP API, in this process or one
    process each."""
    from dealreg.api.server import CannotListenError, listen
    from dealreg.api.server import serve as serve_api

    start_local_broker = not settings.kafka_bootstrap
    try:
        sock = listen(settings)  # a taken address stops here, before anything starts
    except CannotListenError as error:
        return fail(str(error))
    if settings.up_processes:
        sock.close()  # the API's process listens
        try:
            await run_processes(settings, services=chosen(SERVICE_NAMES),
                                prepare_stores=prepare_stores,
                                start_local_broker=start_local_broker)
        except StoppedWhileWaitingError as error:
            return interrupted(error)
        return 0
    try:
        await run_services(settings, chosen(SERVICE_NAMES),
                           start_local_broker=start_local_broker,
                           alongside=[partial(_beside_services, serve_api=partial(
                               serve_api, sock=sock))])
    except StoppedWhileWaitingError as error:
        return interrupted(error)
    finally:
        sock.close()
    return 0


async def _beside_services(settings: Settings, stop: asyncio.Event, *,
                           serve_api: Companion) -> None:
    """The projections follower and the HTTP API of ``dealreg up``, once the services have
    started (so on stores that answer), after creating every table once (the two would
    race to create the read models' tables)."""
    await asyncio.to_thread(prepare_stores, settings)
    following = asyncio.create_task(follow_projections(settings, stop))
    try:
        await serve_api(settings, stop)
    finally:
        stop.set()
        await following


def interrupted(error: StoppedWhileWaitingError) -> int:
    """SIGINT or SIGTERM came while a service waited for its store: one line, exit 130."""
    fail(str(error))
    return 130


async def api(settings: Settings) -> int:
    """The HTTP API alone, until SIGINT or SIGTERM."""
    from dealreg.api.server import CannotListenError
    from dealreg.api.server import serve as serve_api

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await serve_api(settings, stop)
    except CannotListenError as error:
        return fail(str(error))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


async def serve(settings: Settings, name: str) -> int:
    """One service, on the configured Kafka (production)."""
    try:
        await run_services(settings, chosen([name]), start_local_broker=False)
    except StoppedWhileWaitingError as error:
        return interrupted(error)
    return 0


async def expire_due(settings: Settings, now: datetime, *, force: bool = False) -> int:
    """``dealreg expire-due``: refused for a ``now`` in the future unless ``force``d (it
    would end live registrations early), else :func:`expire_due_now`."""
    if now > wall_clock() and not force:
        return fail(f"--now {format_utc(now)} is in the future: registrations still "
                    "protected today whose window ends before it would expire early; add "
                    "--force to expire them anyway")
    expired = await expire_due_now(settings, now)
    for registration_id in expired:
        print(registration_id)
    print(f"{len(expired)} registration(s) expired", file=sys.stderr)
    return 0


async def expire_due_now(settings: Settings, now: datetime) -> list[str]:
    """Store and publish every expiry due at ``now``; the registrations expired."""
    app = await asyncio.to_thread(existing_application, REGISTRATION, settings)
    try:
        expired = await asyncio.to_thread(run_expiry, app, ExpiryIndex(), now)
        await publish_stored(REGISTRATION, app, settings)
        return expired
    finally:
        app.close()


def metrics_flag(command: argparse.ArgumentParser) -> None:
    """``--metrics-port`` of the commands that run services (``up``, ``serve``)."""
    command.add_argument("--metrics-port", type=int, metavar="PORT",
                         help="port of /healthz, /readyz and /metrics (DEALREG_METRICS_PORT; "
                         "default 9464; up --processes: this port + 0, 1, 2 for registration, "
                         "conflict, payouts)")


async def lag(settings: Settings, *, as_json: bool) -> int:
    """Per service and input partition: the end offset, the stored position, the lag."""
    cluster = await cluster_id(settings)
    async with InputEnds(settings, stack_topics(settings, SERVICES)) as reading:
        ends = await reading.ends()
    with existing_service_stores(settings) as apps:
        rows = [row for service in SERVICES
                for row in await asyncio.to_thread(service_lag, service, apps[service.name],
                                                   settings, cluster, ends)]
    if as_json:
        print(json.dumps([{"service": row.service, "topic": row.topic,
                           "partition": row.partition, "end_offset": row.end,
                           "stored_position": row.stored, "lag": row.lag} for row in rows],
                         indent=2))
        return 0
    print(f"{'service':<13} {'topic':<26} {'partition':>9} {'end offset':>11} "
          f"{'stored':>11} {'lag':>9}")
    for row in rows:
        print(f"{row.service:<13} {row.topic:<26} {row.partition:>9} {row.end:>11} "
              f"{row.stored:>11} {row.lag:>9}")
    return 0
