"""Running dealreg: ``dealreg up`` (the whole stack), ``dealreg serve NAME`` (one service),
``dealreg api`` (the HTTP API) and ``dealreg expire-due`` (the one-shot expiry)."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime
from functools import partial

from dealreg.bootstrap import REGISTRATION, SERVICE_NAMES, chosen, prepare_stores
from dealreg.cli.actions import fail
from dealreg.cli.projections import follow_projections
from dealreg.cli.stores import existing_application
from dealreg.events.schemas.values import format_utc
from dealreg.runtime import publish_stored, wall_clock
from dealreg.services.registration.expiry import ExpiryIndex
from dealreg.services.registration.expiry import expire_due as run_expiry
from dealreg.settings import Settings
from dealreg.stack import run_services
from dealreg.supervisor import run_processes


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
        await run_processes(settings, services=SERVICE_NAMES, prepare_stores=prepare_stores,
                            start_local_broker=start_local_broker)
        return 0
    stop = asyncio.Event()
    projecting = asyncio.create_task(follow_projections(settings, stop))
    try:
        await run_services(settings, chosen(SERVICE_NAMES),
                           start_local_broker=start_local_broker, stop=stop,
                           alongside=[partial(serve_api, sock=sock)])
    finally:
        sock.close()
        stop.set()
        await projecting
    return 0


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


async def serve(settings: Settings, name: str) -> None:
    """One service, on the configured Kafka (production)."""
    await run_services(settings, chosen([name]), start_local_broker=False)


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
