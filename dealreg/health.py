"""The operations endpoint of a service process: ``/healthz``, ``/readyz`` and ``/metrics``
on ``DEALREG_METRICS_HOST:DEALREG_METRICS_PORT`` (docs/operators.md "Health and metrics").

* ``/healthz``: 200 while the process runs its event loop (it answers, so it is alive).
* ``/readyz``: 200 ``{"ready": true}`` when every service of the process has its event store
  reachable, input partitions assigned and an outbox that moves; otherwise 503 with
  ``{"ready": false, "reasons": [...]}``, one reason in words per problem.
* ``/metrics``: Prometheus' text format (``dealreg.metrics``, and the process' own figures).

A small HTTP/1.1 server on the process' asyncio loop, beside the services: a request is
read, answered and its connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

#: longest a client may take to send its request
REQUEST_TIMEOUT_S = 10.0


class Probed(Protocol):
    """A running service, as the endpoint asks it (``dealreg.runtime.ServiceRuntime``)."""

    async def readiness(self) -> list[str]: ...

    async def measure(self) -> None: ...


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable",
            400: "Bad Request"}


def _json(status: int, document: object) -> Answer:
    return Answer(status, "application/json", json.dumps(document).encode())


async def ready(services: Sequence[Probed]) -> Answer:
    reasons = [reason for service in services for reason in await service.readiness()]
    if reasons:
        return _json(503, {"ready": False, "reasons": reasons})
    return _json(200, {"ready": True})


async def scrape(services: Sequence[Probed]) -> Answer:
    for service in services:
        try:
            await service.measure()
        except Exception as error:  # the figures that need the store keep their last value
            log.info("metrics not measured", extra={"error": " ".join(str(error).split())})
    return Answer(200, CONTENT_TYPE_LATEST, generate_latest())


class HealthEndpoint:
    """Serves the three paths for the services of this process (added as they start)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.services: list[Probed] = []
        self._server: asyncio.Server | None = None
        self._routes: dict[str, Callable[[], Awaitable[Answer]]] = {
            "/healthz": self._alive,
            "/readyz": lambda: ready(self.services),
            "/metrics": lambda: scrape(self.services),
        }

    async def _alive(self) -> Answer:
        return _json(200, {"alive": True})

    async def start(self) -> bool:
        """Listen; False (and a warning) when the port is taken: the services run without
        the endpoint rather than not at all (e.g. a second instance on one machine)."""
        try:
            self._server = await asyncio.start_server(self._answer, self.host, self.port)
        except OSError as error:
            log.warning("health and metrics endpoint not served: cannot listen",
                        extra={"address": f"{self.host}:{self.port}", "error": str(error)})
            return False
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health and metrics endpoint listening",
                 extra={"url": f"http://{self.host}:{self.port}/metrics"})
        return True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await asyncio.wait_for(self._route(reader), REQUEST_TIMEOUT_S)
            head = (f"HTTP/1.1 {answer.status} {_REASONS[answer.status]}\r\n"
                    f"Content-Type: {answer.content_type}\r\n"
                    f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + answer.body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, reader: asyncio.StreamReader) -> Answer:
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method, _, rest = request.partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        route = self._routes.get(path)
        if route is None:
            return _json(404, {"error": f"no such path: {path[:100]}; /healthz, /readyz, "
                               "/metrics"})
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": "GET only"})
        return await route()
