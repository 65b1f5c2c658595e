"""The composition root: the one module that knows every part of dealreg.

It builds each service's definition from its parts (application, inbound handlers,
emissions, background work) and hands them to the runtime (``dealreg.runtime``,
``dealreg.stack``, ``dealreg.supervisor``), which knows no service. Entry points (the CLI)
ask this module for services and stores; nothing else imports them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dealreg.eventstore import ServiceApplication
from dealreg.projections.store import ReadStore
from dealreg.runtime import ServiceDefinition
from dealreg.services.conflict.app import ConflictApplication
from dealreg.services.conflict.emissions import emit as conflict_emits
from dealreg.services.conflict.handlers import INBOUND as CONFLICT_INBOUND
from dealreg.services.payouts.app import PayoutsApplication
from dealreg.services.payouts.emissions import emit as payouts_emits
from dealreg.services.payouts.handlers import INBOUND as PAYOUTS_INBOUND
from dealreg.services.registration.app import RegistrationApplication
from dealreg.services.registration.emissions import emit as registration_emits
from dealreg.services.registration.expiry import run_scheduler
from dealreg.services.registration.handlers import INBOUND as REGISTRATION_INBOUND
from dealreg.settings import Settings

REGISTRATION = ServiceDefinition(
    name="registration",
    application=RegistrationApplication,
    inbound=REGISTRATION_INBOUND,
    emit=registration_emits,
    background=(run_scheduler,),
)
CONFLICT = ServiceDefinition(
    name="conflict",
    application=ConflictApplication,
    inbound=CONFLICT_INBOUND,
    emit=conflict_emits,
)
PAYOUTS = ServiceDefinition(
    name="payouts",
    application=PayoutsApplication,
    inbound=PAYOUTS_INBOUND,
    emit=payouts_emits,
)

#: Every service, in the order they start.
SERVICES: tuple[ServiceDefinition, ...] = (REGISTRATION, CONFLICT, PAYOUTS)
SERVICE_NAMES: tuple[str, ...] = tuple(service.name for service in SERVICES)


def definitions() -> dict[str, ServiceDefinition]:
    """Every service by name, in the order they start."""
    return {service.name: service for service in SERVICES}


def chosen(names: Sequence[str]) -> list[ServiceDefinition]:
    """The services named, in the order they start."""
    return [service for service in SERVICES if service.name in names]


@contextmanager
def service_stores(settings: Settings) -> Iterator[dict[str, ServiceApplication]]:
    """The three services' applications by name (registration, conflict, payouts), closed
    on exit: for the tools that read across them."""
    apps = {service.name: service.build_application(settings) for service in SERVICES}
    try:
        yield apps
    finally:
        for app in apps.values():
            app.close()


def prepare_stores(settings: Settings) -> None:
    """Create every service's tables and the projections' tables (when this process may)."""
    if not settings.create_tables:
        return
    with service_stores(settings):
        pass
    ReadStore.open(settings).close()
