"""The API's lists a page at a time: ``limit`` and ``next_cursor`` / ``cursor`` on a
partner's registrations and on the dispute queue; a registration submitted while paging
does not shift the pages; a cursor that is not one, or a limit out of range, is 422."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.api import Api, running_api


@pytest.fixture
async def api(kafka_settings: Settings) -> AsyncIterator[Api]:
    async with running_api(kafka_settings) as running:
        yield running


def submitted(api: Api, registration_id: str, day: str, partner_id: str = "p-a",
              domain: str | None = None) -> None:
    api.bus.send("registrations.requests.v1", ev.registration_submitted(
        registration_id, partner_id, domain=domain or f"{registration_id}.example",
        submitted_at=f"2026-03-{day}T00:00:00Z"))


async def pages(api: Api, holder: str, path: str, limit: int, items: str
                ) -> list[list[str]]:
    found, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        answer = (await api.get(holder, path, params=params)).json()
        found.append([item["registration_id" if items == "registrations" else "dispute_id"]
                      for item in answer[items]])
        cursor = answer["next_cursor"]
        if cursor is None:
            return found


async def test_a_partners_registrations_come_a_page_at_a_time(api: Api) -> None:
    for number, day in enumerate(("01", "02", "03", "04", "05"), start=1):
        submitted(api, f"r-{number}", day)
    api.project()
    assert await pages(api, "portal-a", "/api/v1/registrations", 2, "registrations") == [
        ["r-5", "r-4"], ["r-3", "r-2"], ["r-1"]]
    assert await pages(api, "portal-a", "/api/v1/registrations", 5, "registrations") == [
        ["r-5", "r-4", "r-3", "r-2", "r-1"]]

    first = (await api.get("portal-a", "/api/v1/registrations", params={"limit": 2})).json()
    submitted(api, "r-6", "06")  # the latest: before the first page, not in the next ones
    api.project()
    second = (await api.get("portal-a", "/api/v1/registrations", params={
        "limit": 2, "cursor": first["next_cursor"]})).json()
    assert [r["registration_id"] for r in second["registrations"]] == ["r-3", "r-2"]
    everything = (await api.get("portal-a", "/api/v1/registrations")).json()
    assert len(everything["registrations"]) == 6
    assert everything["next_cursor"] is None


async def test_the_dispute_queue_comes_a_page_at_a_time(api: Api) -> None:
    for registration_id, partner_id, day in (("r-1", "p-a", "01"), ("r-2", "p-b", "02"),
                                             ("r-3", "p-a", "03"), ("r-4", "p-b", "04")):
        submitted(api, registration_id, day, partner_id,
                  "acme.example" if registration_id in ("r-1", "r-2") else "beta.example")
    api.bus.send("salesops.v1", ev.dispute_raised("x-2", "r-4", raised_at="2026-03-05T00:00:00Z"))
    api.bus.send("salesops.v1", ev.dispute_resolved("x-2", {"registration_id": "r-4"},
                                                    resolved_at="2026-03-08T00:00:00Z"))
    api.bus.send("salesops.v1", ev.dispute_raised("x-1", "r-2", raised_at="2026-03-06T00:00:00Z"))
    assert await pages(api, "ops-lead", "/api/v1/disputes", 1, "disputes") == [
        ["x-1"], ["x-2"]]


async def test_a_cursor_or_a_limit_that_is_not_one_is_refused(api: Api) -> None:
    submitted(api, "r-1", "01")
    submitted(api, "r-2", "02")
    api.project()
    for params, field in (({"cursor": "not a cursor"}, "cursor"),
                          ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]: another list's key
                          ({"limit": 0}, "limit"), ({"limit": 1001}, "limit")):
        answer = await api.get("portal-a", "/api/v1/registrations", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["errors"][0]["field"] == field
