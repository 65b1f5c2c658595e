"""A service started while its database is (re)starting waits for it instead of exiting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dealreg import runtime as service_module
from dealreg.bootstrap import REGISTRATION
from dealreg.eventstore import ServiceApplication
from dealreg.runtime import ServiceDefinition, ServiceRuntime
from dealreg.settings import Settings


def recovering_store(failures: int) -> tuple[ServiceDefinition, list[str]]:
    """REGISTRATION, whose store refuses connections ``failures`` times first."""
    attempts: list[str] = []

    class Recovering(REGISTRATION.application):  # type: ignore[name-defined,misc]
        def __init__(self, env: Any = None) -> None:
            attempts.append("try")
            if len(attempts) <= failures:
                raise psycopg.OperationalError("the database system is starting up")
            super().__init__(env)

    return replace(REGISTRATION, application=Recovering), attempts


async def test_a_starting_service_waits_for_its_store(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    definition, attempts = recovering_store(failures=2)
    runtime = ServiceRuntime(definition, Settings(data_dir=tmp_path))
    app = await runtime._open_store()
    assert isinstance(app, ServiceApplication)
    assert len(attempts) == 3
    app.close()


async def test_it_gives_up_after_the_wait_with_the_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "STORE_WAIT_S", 0.5)
    definition, attempts = recovering_store(failures=100)
    runtime = ServiceRuntime(definition, Settings(data_dir=tmp_path))
    with pytest.raises(psycopg.OperationalError, match="starting up"):
        await runtime._open_store()
    assert 1 <= len(attempts) <= 3


def test_processes_creating_the_same_tables_at_once_all_open_the_store(
        postgres_settings: Settings) -> None:
    """Several instances (or a tool beside a starting service) create one service's tables
    at the same moment: PostgreSQL's catalog refuses all but one, the others try again."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    together = Barrier(6)

    def open_store(_: int) -> ServiceApplication:
        together.wait()
        return REGISTRATION.build_application(postgres_settings)

    with ThreadPoolExecutor(6) as pool:
        apps = list(pool.map(open_store, range(6)))
    assert all(app.recorder.max_notification_id() is None for app in apps)
    for app in apps:
        app.close()
