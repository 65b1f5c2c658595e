"""Signing in to the console with an API token, and out: the token is sent once, in the
sign-in form, and the browser keeps only a session cookie from then on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from dealreg.console.sessions import COOKIE
from dealreg.console.web import (
    Anyone,
    Form,
    Read,
    checked_form,
    menu,
    render,
    sessions,
    set_session,
    text,
)

router = APIRouter()
#: What the sign-in page says, by the ``why`` it was sent to with.
REASONS = {"revoked": "Your token was revoked: sign in with another one.",
           "signed-out": "You are signed out."}


def _next(value: str | None) -> str:
    """Where to go once signed in: a page of this console only."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


@router.get("/", include_in_schema=False)
def home(request: Request, found: Anyone) -> Response:
    """The first page the visitor's role may see, or the sign-in page."""
    pages = menu(found.caller)
    return RedirectResponse(pages[0].path if pages else "/signin", status_code=303)


@router.get("/signin", include_in_schema=False)
def sign_in_page(request: Request, found: Anyone,
                 next: Annotated[str | None, Query()] = None,
                 why: Annotated[str | None, Query()] = None) -> Response:
    return render(request, "signin.html", found, next=_next(next),
                  notice=REASONS.get(why or ""))


@router.post("/signin", include_in_schema=False)
async def sign_in(request: Request, found: Anyone, read: Read) -> Response:
    """Open a session for the token's holder: a new session id and CSRF token."""
    posted = await checked_form(request, found)
    given = text(posted, "token")
    token = await run_in_threadpool(read.tokens.authenticate, given) if given else None
    if token is None:
        return render(request, "signin.html", found, code=401, next=_next(
            text(posted, "next")), error="That token is unknown or revoked. Ask for one "
            "made with `dealreg tokens create`.")
    kept = sessions(request)
    kept.end(found.session_id)
    session_id, _ = kept.open(token.name)
    answer = RedirectResponse(_next(text(posted, "next")), status_code=303)
    set_session(request, answer, session_id)
    return answer


@router.post("/signout", include_in_schema=False)
def sign_out(request: Request, found: Anyone, posted: Form) -> Response:
    sessions(request).end(found.session_id)
    answer = RedirectResponse("/signin?why=signed-out", status_code=303)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer
