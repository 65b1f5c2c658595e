"""Opening every service's event store at once, for the tools that read across them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dealreg.settings import Settings
from dealreg.store import ServiceApplication


@contextmanager
def service_stores(settings: Settings) -> Iterator[dict[str, ServiceApplication]]:
    """The three services' applications by name (registration, conflict, payouts), closed
    on exit."""
    from services import definitions

    apps = {name: definition.build_application(settings)
            for name, definition in definitions().items()}
    try:
        yield apps
    finally:
        for app in apps.values():
            app.close()
