"""The auditor's pages: every hash chain verified (the first broken link named), and the
stored history of any id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from dealreg.api import audit as api
from dealreg.console.web import MENU, Link, Read, Signed, call, optional, permit, render

router = APIRouter()
MENU.append(Link("Audit", "/audit", api.verification))


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request, found: Signed, read: Read) -> Response:
    verified = await call(api.verification, found.who, read=read)
    return render(request, "audit.html", found, verified=verified)


@router.get("/audit/export", include_in_schema=False)
async def export_download(found: Signed, read: Read) -> Response:
    """The API's export (every stored event with its hashes, personal data left out), to
    download from the browser."""
    exported: Response = await call(api.export, found.who, read=read)
    return exported


@router.get("/audit/history", include_in_schema=False)
async def history_page(request: Request, found: Signed, read: Read,
                       id: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """The stored events naming an id (the form alone until it names one)."""
    events = None
    if optional(id):
        assert id is not None
        events = (await call(api.history, found.who, read=read,
                             business_id=id.strip()))["events"]
    else:
        permit(api.history, found.who)
    return render(request, "history.html", found, business_id=id or "", events=events)
