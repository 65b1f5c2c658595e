"""A partner raises a dispute through the API (``dispute.raised``, as ``dealreg disputes
raise`` sends it) over its registration that lost the account to another partner's; the
refusals: another partner's registration (404), one not denied for a conflict or already
disputed (409), no evidence (422)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dealreg.actions.salesops import raised_dispute_id
from dealreg.services.conflict import salesops
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.api import Api, running_api
from tests.support.contract import assert_valid_event

CASE = {"evidence": "We met the buyer on 2026-02-20; minutes attached.",
        "raised_at": "2026-03-03T09:00:00Z"}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """r-1 (p-a) holds acme; r-2 (p-b) lost it to r-1."""
    async with running_api(settings) as running:
        for registration_id, partner_id, day in (("r-1", "p-a", "01"), ("r-2", "p-b", "02")):
            running.bus.send("registrations.requests.v1", ev.registration_submitted(
                registration_id, partner_id, domain="acme.example",
                submitted_at=f"2026-03-{day}T00:00:00Z"))
        yield running


async def test_a_partner_disputes_its_registration_that_lost_to_another_partners(
        api: Api) -> None:
    answer = await api.post("portal-b", "/api/v1/registrations/r-2/dispute", CASE)
    assert answer.status_code == 202, answer.text
    dispute_id = raised_dispute_id("r-2")
    assert answer.json()["dispute_id"] == dispute_id
    topic, key, event = api.sent()
    assert (topic, key) == ("salesops.v1", dispute_id.encode())
    assert_valid_event(event, topic)
    assert (event["type"], event["time"], event["data"]) == (
        "dealreg.dispute.raised.v1", "2026-03-03T09:00:00Z",
        {"dispute_id": dispute_id, "registration_id": "r-2", "raised_at": "2026-03-03T09:00:00Z",
         "evidence": CASE["evidence"]})
    assert answer.json()["event"] == event
    api.bus.send(topic, event)
    assert salesops.dispute(api.stores.conflict, dispute_id).registration_ids == ("r-2", "r-1")
    again = await api.post("portal-b", "/api/v1/registrations/r-2/dispute", CASE)
    assert (again.status_code, again.json()["detail"]) == (
        409, f"the denial of registration 'r-2' is already disputed as dispute {dispute_id}")


async def test_a_dispute_is_refused_as_the_command_line_refuses_it(api: Api) -> None:
    stranger = await api.post("portal-a", "/api/v1/registrations/r-2/dispute", CASE)
    assert (stranger.status_code, stranger.json()["detail"]) == (404, "no registration 'r-2'")
    holder = await api.post("portal-a", "/api/v1/registrations/r-1/dispute", CASE)
    assert holder.status_code == 409
    assert holder.json()["detail"].startswith("registration 'r-1' is approved, not denied "
                                              "for a conflict")
    silent = await api.post("portal-b", "/api/v1/registrations/r-2/dispute",
                            {"evidence": "  "})
    assert (silent.status_code, silent.json()["errors"][0]["field"]) == (422, "evidence")
    named = await api.post("portal-b", "/api/v1/registrations/r-2/dispute",
                           CASE | {"registration_id": "r-1"})
    assert named.status_code == 422
    ops = await api.post("ops-lead", "/api/v1/registrations/r-2/dispute", CASE)
    assert ops.status_code == 403
    assert api.produced.take() == []
