"""Running dealreg: ``dealreg up`` (the whole stack), ``dealreg serve NAME`` (one service) and
``dealreg expire-due`` (the one-shot expiry)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from dealreg.bootstrap import REGISTRATION, SERVICE_NAMES, chosen, prepare_stores
from dealreg.cli.projections import follow_projections
from dealreg.runtime import publish_stored
from dealreg.services.registration.expiry import ExpiryIndex, expire_due
from dealreg.settings import Settings
from dealreg.stack import run_services
from dealreg.supervisor import run_processes


async def up(settings: Settings) -> None:
    """Every service and the projections follower, in this process or one process each."""
    start_local_broker = not settings.kafka_bootstrap
    if settings.up_processes:
        await run_processes(settings, services=SERVICE_NAMES, prepare_stores=prepare_stores,
                            start_local_broker=start_local_broker)
        return
    stop = asyncio.Event()
    projecting = asyncio.create_task(follow_projections(settings, stop))
    try:
        await run_services(settings, chosen(SERVICE_NAMES),
                           start_local_broker=start_local_broker, stop=stop)
    finally:
        stop.set()
        await projecting


async def serve(settings: Settings, name: str) -> None:
    """One service, on the configured Kafka (production)."""
    await run_services(settings, chosen([name]), start_local_broker=False)


async def expire_due_now(settings: Settings, now: datetime) -> list[str]:
    """Store and publish every expiry due at ``now``; the registrations expired."""
    app = await asyncio.to_thread(REGISTRATION.build_application, settings)
    try:
        expired = await asyncio.to_thread(expire_due, app, ExpiryIndex(), now)
        await publish_stored(REGISTRATION, app, settings)
        return expired
    finally:
        app.close()
