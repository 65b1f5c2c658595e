"""Long-running processes collect cyclic garbage less often (dealreg.collector)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from dealreg import collector
from dealreg.projections import runner


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_restored")
def test_start_up_objects_are_left_out_and_collections_are_rarer() -> None:
    gc.unfreeze()
    collector.collect_less_often()
    assert gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_threshold()[0] > 700  # CPython's default
    assert gc.get_freeze_count() > 0


def test_the_projections_follower_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(runner, "collect_less_often", lambda: calls.append(1))
    stopped = asyncio.Event()
    stopped.set()
    projector: Any = runner.Projector(store=None, apps={})  # type: ignore[arg-type]
    asyncio.run(projector.follow([], stopped))
    assert calls == [1]
