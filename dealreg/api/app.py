"""The HTTP API: one FastAPI application, its endpoints under ``/api/v1`` (one router per
kind of user), its OpenAPI document at ``/openapi.json`` and its documentation at
``/docs``; the web console (dealreg.console) has the rest of the address space.

Each request is logged in one line: method, path (never the query string), status, time
taken and the token's name and role, never the token, a cookie or a body.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealreg import console
from dealreg.api import audit, billing, partner_portal, program_ops, salesops
from dealreg.api.problems import RESPONSES, install
from dealreg.api.stores import Stores

log = logging.getLogger("dealreg.api")

PREFIX = "/api/v1"
#: The endpoints, one router per kind of user.
ROUTERS = (partner_portal.router, salesops.router, billing.router, audit.router,
           program_ops.router)
DESCRIPTION = """The HTTP API of dealreg, for partners, sales ops, billing, auditors and
program ops. Every request needs an API token of `dealreg tokens create`, sent as
`Authorization: Bearer TOKEN`; the token's role decides which endpoints it may call. Reads
come from the services' event stores and read models; writes send the contract's input
CloudEvents to Kafka (202 Accepted) and the services decide. See docs/api.md."""


def create_app(stores: Stores) -> FastAPI:
    """The API on ``stores`` (opened and closed by the caller)."""
    app = FastAPI(title="dealreg", version="1", description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.stores = stores
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX, responses=RESPONSES)
    install(app)
    console.install(app)
    app.add_middleware(RequestLog)
    return app


class RequestLog:
    """One log line per request, after its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            caller = scope.get("state", {}).get("caller")
            log.info("request", extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "caller": caller.name if caller else None,
                "role": caller.role if caller else None})
