"""The stores a read-only command opens, without creating anything: no SQLite file, no
PostgreSQL schema or table. A store that is absent is a one-line refusal naming where the
command looked (most often the wrong ``DEALREG_DATABASE_URL`` or ``DEALREG_DATA_DIR``),
never an empty store created there and reported as "nothing found"."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dealreg.bootstrap import SERVICES
from dealreg.cli.actions import CommandError
from dealreg.eventstore import ServiceApplication, schema_name
from dealreg.projections.store import ReadStore
from dealreg.runtime import ServiceDefinition
from dealreg.settings import Settings


class StoreAbsentError(CommandError):
    """A store a command reads is not where the settings say."""


def where(settings: Settings, name: str) -> str:
    """Where the store ``name`` (a service, ``projections``) is, for a person."""
    if settings.uses_postgres:
        return f"{settings.database_description()} schema {schema_name(settings, name)}"
    return str((settings.data_dir / f"{name}.sqlite").resolve())


def exists(settings: Settings, name: str) -> bool:
    """Whether the store ``name`` has been created (its SQLite file, or its PostgreSQL
    schema with at least one table), looked up without creating anything."""
    if not settings.uses_postgres:
        return (settings.data_dir / f"{name}.sqlite").is_file()
    import psycopg

    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                             "LIMIT 1", (schema_name(settings, name),)).fetchone()
    return found is not None


def require(settings: Settings, name: str, what: str,
            first: str = "run `dealreg up` first") -> Settings:
    """``settings`` that open the existing store ``name`` without creating tables;
    :class:`StoreAbsentError` when it is absent, saying what to do ``first``."""
    if not exists(settings, name):
        variable = "DEALREG_DATABASE_URL" if settings.uses_postgres else "DEALREG_DATA_DIR"
        raise StoreAbsentError(f"no {what} at {where(settings, name)}; is {variable} right? "
                               f"{first}")
    return settings.with_overrides(create_tables=False)


def existing_application(definition: ServiceDefinition,
                         settings: Settings) -> ServiceApplication:
    """The service's application on its existing store (the caller closes it)."""
    return definition.build_application(
        require(settings, definition.name, f"{definition.name} store"))


@contextmanager
def existing_service_stores(
        settings: Settings,
        services: Sequence[ServiceDefinition] = SERVICES,
) -> Iterator[dict[str, ServiceApplication]]:
    """The applications of ``services`` by name on their existing stores, closed on exit;
    refused before any is opened when one is absent."""
    checked = [(service, require(settings, service.name, f"{service.name} store"))
               for service in services]
    apps: dict[str, ServiceApplication] = {}
    try:
        for service, opening in checked:
            apps[service.name] = service.build_application(opening)
        yield apps
    finally:
        for app in apps.values():
            app.close()


def existing_read_store(settings: Settings) -> ReadStore:
    """The projections' read models, existing (the caller closes them)."""
    return ReadStore.open(require(settings, "projections", "projections store"))
