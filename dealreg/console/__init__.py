"""The web console: server-rendered pages for sales ops, partners, billing, auditors and
program ops, on the HTTP API's application, at ``/`` (docs/console.md)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dealreg.console import audit, billing, errors, partner_portal, program_ops, salesops, signin
from dealreg.console.sessions import Sessions

ROUTERS = (signin.router, salesops.router, partner_portal.router, billing.router,
           audit.router, program_ops.router)


def install(app: FastAPI) -> None:
    """The console's pages on ``app`` (the API's, installed first), its style sheet at
    ``/static``, and its errors as pages."""
    app.state.console_sessions = Sessions()
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(files("dealreg.console") / "static")),
              name="static")
    errors.install(app)
