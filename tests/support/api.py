"""The HTTP API on real stores, in the test's process: the services wired in memory on the
same stores (SQLite files or PostgreSQL schemas) make the facts, the API reads them, and
what it sends is recorded instead of produced, then delivered to the services as the broker
would, when a test says so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from dealreg.actions import now
from dealreg.actions.producing import Message
from dealreg.api.app import create_app
from dealreg.api.stores import Stores, open_stores
from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.projections import all_projections
from dealreg.projections.runner import Projector
from dealreg.projections.store import ReadStore
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.bus import InMemoryBus

#: The tokens every test has, by name: (role, partner).
HOLDERS: Mapping[str, tuple[str, str | None]] = {
    "portal-a": ("partner", "p-a"), "portal-b": ("partner", "p-b"),
    "ops-lead": ("sales_ops", None), "finance": ("billing", None),
    "auditor-1": ("auditor", None), "program-ops": ("program_ops", None)}
#: A role's token, for the tests that go through every role.
BY_ROLE = {role: name for name, (role, _) in HOLDERS.items() if name != "portal-b"}


@dataclass
class Produced:
    """Stands in for the Kafka producer: keeps what would have been produced."""

    messages: list[tuple[str, Message]] = field(default_factory=list)

    async def __call__(self, topic: str, messages: Sequence[Message]) -> None:
        self.messages.extend((topic, message) for message in messages)

    def take(self) -> list[tuple[str, bytes, dict[str, Any]]]:
        """(topic, key, CloudEvent) of each message produced since the last take."""
        taken = [(topic, message.key, json.loads(message.value))
                 for topic, message in self.messages]
        self.messages.clear()
        return taken


@dataclass
class Api:
    bus: InMemoryBus
    stores: Stores
    client: httpx.AsyncClient
    produced: Produced
    settings: Settings
    tokens: dict[str, str]
    app: FastAPI

    def auth(self, holder: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[holder]}"}

    async def get(self, holder: str, path: str, **options: Any) -> httpx.Response:
        headers = {**self.auth(holder), **options.pop("headers", {})}
        return await self.client.get(path, headers=headers, **options)

    async def post(self, holder: str, path: str, body: Any = None,
                   **options: Any) -> httpx.Response:
        headers = {**self.auth(holder), **options.pop("headers", {})}
        return await self.client.post(path, json=body, headers=headers, **options)

    def sent(self) -> tuple[str, bytes, dict[str, Any]]:
        """The one message produced since the last look: (topic, key, CloudEvent)."""
        [message] = self.produced.take()
        return message

    def deliver(self) -> list[dict[str, Any]]:
        """Deliver what was produced to the services, as the broker would, and bring the
        read models up to date; the CloudEvents delivered."""
        events = []
        for topic, _, event in self.produced.take():
            self.bus.send(topic, event)
            events.append(event)
        self.project()
        return events

    def project(self) -> None:
        store = ReadStore.open(self.settings)
        try:
            Projector(store, self.bus.apps()).catch_up(list(all_projections().values()))
        finally:
            store.close()


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """The API on ``settings``' stores, partners p-a and p-b enrolled (gold referral), and a
    token for each of :data:`HOLDERS`."""
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    produced = Produced()
    try:
        for partner_id in ("p-a", "p-b"):
            bus.send("partners.v1", ev.partner_enrolled(partner_id))
        with open_stores(settings, produced) as stores:
            tokens = {name: stores.tokens.create(name, role, partner, now())
                      for name, (role, partner) in HOLDERS.items()}
            app = create_app(stores)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://dealreg.test") as client:
                api = Api(bus, stores, client, produced, settings, tokens, app)
                api.project()
                yield api
    finally:
        bus.close()
