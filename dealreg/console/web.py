"""What every page of the web console is made of: the signed-in visitor, the API endpoint a
page shows (called as the API calls it, after the same role check), forms checked for
their CSRF token, and pages rendered from the templates.

A page never reads or writes a store by itself: it calls the HTTP API's endpoint function
(``dealreg.api.*``) with the visitor's token holder, so what a person may see and do in the
console is exactly what their token may in the API, and every write sends the contract's
CloudEvent through ``dealreg.actions``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from importlib.resources import files
from typing import Annotated, Any, get_type_hints
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends as DependsParam
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from dealreg.api.auth import Admits, Caller
from dealreg.api.problems import (
    FieldError,
    ProblemError,
    invalid,
    invalid_event,
    invalid_fields,
)
from dealreg.api.stores import Stores
from dealreg.console.sessions import COOKIE, Session, Sessions
from dealreg.events.schemas import BadInput

TEMPLATES = Jinja2Templates(directory=str(files("dealreg.console") / "templates"))
#: Every console page's security headers: no script, style or frame from elsewhere.
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "Cache-Control": "no-store"}


class SignInNeededError(Exception):
    """The page needs a signed-in visitor; the console answers with the sign-in page, which
    says why when ``why`` is one of its reasons (``revoked``)."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Visitor:
    """Who is looking at a page: their session and, once signed in, their token's holder."""

    session_id: str
    session: Session
    caller: Caller | None

    @property
    def who(self) -> Caller:
        if self.caller is None:
            raise SignInNeededError
        return self.caller


def stores(request: Request) -> Stores:
    found: Stores = request.app.state.stores
    return found


def sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.console_sessions
    return found


def visitor(request: Request) -> Visitor:
    """The request's visitor; a session is opened for one who has none (the sign-in form
    needs its CSRF token), and ended when its token was revoked since."""
    kept = sessions(request)
    session_id = request.cookies.get(COOKIE)
    session = kept.find(session_id)
    if session is None or session_id is None:
        session_id, session = kept.open()
        request.state.new_session = session_id
    caller = None
    if session.token_name is not None:
        token = stores(request).tokens.find(session.token_name)
        if token is None or token.revoked_at is not None:
            kept.end(session_id)
            raise SignInNeededError("revoked")
        caller = Caller(token.name, token.role, token.partner_id)
        request.state.caller = caller  # the request's log line names its holder
    return Visitor(session_id, session, caller)


def signed_in(found: Annotated[Visitor, Depends(visitor)]) -> Visitor:
    found.who  # noqa: B018 (refuses a visitor who has not signed in)
    return found


Anyone = Annotated[Visitor, Depends(visitor)]
Signed = Annotated[Visitor, Depends(signed_in)]
Read = Annotated[Stores, Depends(stores)]


async def form(request: Request, signed: Signed) -> FormData:
    """The posted form, once its CSRF token is the session's (403 otherwise)."""
    return await checked_form(request, signed)


async def checked_form(request: Request, found: Visitor) -> FormData:
    posted = await request.form()
    csrf = posted.get("csrf")
    if not found.session.sent_back(csrf if isinstance(csrf, str) else None):
        raise ProblemError(403, "this form did not come from your current console session "
                           "(CSRF check): open the page again and send it from there")
    return posted


Form = Annotated[FormData, Depends(form)]


# ------------------------------------------------------------------ calling the API


@cache
def admits(endpoint: Callable[..., Any]) -> Admits:
    """The role check of an API endpoint: the :class:`Admits` its ``who`` depends on."""
    hint = get_type_hints(endpoint, include_extras=True)["who"]
    [check] = [meta.dependency for meta in getattr(hint, "__metadata__", ())
               if isinstance(meta, DependsParam) and isinstance(meta.dependency, Admits)]
    return check


def allowed(endpoint: Callable[..., Any], who: Caller | None) -> bool:
    return who is not None and who.role in admits(endpoint).roles


def permit(endpoint: Callable[..., Any], who: Caller) -> None:
    """Refuse (403, as the API refuses) a visitor whose role may not call ``endpoint``: for
    a page that shows the endpoint's form before calling it."""
    admits(endpoint)(who)


async def call(endpoint: Callable[..., Any], who: Caller, **arguments: Any) -> Any:
    """What the API endpoint answers to ``who`` (refused with 403, as the API refuses,
    when its role may not call it)."""
    permit(endpoint, who)
    try:
        if inspect.iscoroutinefunction(endpoint):
            return await endpoint(who=who, **arguments)
        return await run_in_threadpool(endpoint, who=who, **arguments)
    except BadInput as bad:  # the event it would send, refused by the contract
        raise invalid_event(bad) from None


#: What a form says of a field, by the kind of pydantic error, in words for people.
PLAIN = {"missing": "is required", "string_too_short": "must not be empty",
         "string_pattern_mismatch": "is not in the form asked for (see the label)",
         "date_from_datetime_parsing": "must be a date, as 2026-03-05",
         "decimal_parsing": "must be a number, as 1250.00"}


def body(model: type[BaseModel], fields: Mapping[str, Any]) -> Any:
    """A request body of ``model`` made of a form's fields (422 naming each bad one)."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise invalid_fields([{**e, "loc": ("body", *e["loc"]),
                               "msg": PLAIN.get(e["type"], e["msg"].removeprefix(
                                   "Value error, "))}
                              for e in error.errors()]) from None


def text(posted: FormData, name: str) -> str:
    value = posted.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def day(value: str | None, name: str) -> date | None:
    """A form's date (``YYYY-MM-DD``), None when left empty (422 naming it when bad)."""
    if not optional(value):
        return None
    assert value is not None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise invalid(name, "must be a date, as 2026-03-05", "query") from None


def end_of(found: date) -> datetime:
    """The last instant of a day (UTC): "as of a date" is as of its end."""
    return datetime.combine(found, time(23, 59, 59), tzinfo=UTC)


# ------------------------------------------------------------------ pages


@dataclass(frozen=True)
class Link:
    label: str
    path: str
    endpoint: Callable[..., Any]


#: The console's menu; each visitor sees the entries whose API endpoint their role may call.
MENU: list[Link] = []


def menu(who: Caller | None) -> list[Link]:
    return [link for link in MENU if allowed(link.endpoint, who)]


def render(request: Request, template: str, found: Visitor | None, *, code: int = 200,
           **context: Any) -> Response:
    """The page of ``template``, with the visitor's menu and CSRF token."""
    caller = found.caller if found else None
    response = TEMPLATES.TemplateResponse(request, template, {
        "who": caller, "menu": menu(caller), "csrf": found.session.csrf if found else "",
        "path": request.url.path, **context}, status_code=code, headers=HEADERS)
    keep_session(request, response)
    return response


def keep_session(request: Request, response: Response) -> None:
    """Give the browser the session opened for this request, if one was."""
    opened = getattr(request.state, "new_session", None)
    if opened:
        set_session(request, response, opened)


def set_session(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(COOKIE, session_id, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def sign_in_path(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/signin?next={quote(here, safe='')}" if request.url.path != "/" else "/signin"


def next_page(request: Request, cursor: str | None) -> str | None:
    """The address of a list's next page (its cursor in place of this page's), if any."""
    if cursor is None:
        return None
    following = request.url.include_query_params(cursor=cursor)
    return f"{following.path}?{following.query}"


def field_errors(error: ProblemError) -> dict[str, str]:
    """A refused request's messages by field, for a form to show beside each."""
    return {entry.field: entry.message for entry in error.errors}


def problem_fields(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": entry.field, "message": entry.message} for entry in errors]
