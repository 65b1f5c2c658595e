"""Errors as RFC 9457 problem details (``application/problem+json``): ``type``, ``title``,
``status``, ``detail`` and, for a request that is not valid, ``errors`` naming each field.
Nothing of the request (its values, headers or token) is echoed or logged."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealreg.events.schemas import BadInput
from dealreg.eventstore import STORE_ERRORS

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
#: The largest request body the API reads.
BODY_LIMIT = 64 * 1024

#: status → (type, title) of the problems the API answers with (docs/api.md, "Problems").
KINDS: Mapping[int, tuple[str, str]] = {
    400: ("/problems/bad-request", "Bad request"),
    401: ("/problems/unauthenticated", "Not authenticated"),
    403: ("/problems/forbidden", "Forbidden"),
    404: ("/problems/not-found", "Not found"),
    405: ("/problems/method-not-allowed", "Method not allowed"),
    406: ("/problems/not-acceptable", "Not acceptable"),
    409: ("/problems/refused", "Refused"),
    413: ("/problems/too-large", "Content too large"),
    415: ("/problems/unsupported-media-type", "Unsupported media type"),
    422: ("/problems/invalid-request", "Invalid request"),
    500: ("/problems/internal-error", "Internal error"),
    503: ("/problems/unavailable", "Service unavailable"),
}


class FieldError(BaseModel):
    """One field of a request that is not valid: where (``body``, ``query``, ``path``,
    ``header``), which (dotted, e.g. ``prospect.country``) and what is wrong."""

    location: str
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Answer the request with a problem of ``status``."""

    def __init__(self, status: int, detail: str, *, errors: Sequence[FieldError] = (),
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem(status: int, detail: str, *, errors: Sequence[FieldError] = (),
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    kind, title = KINDS.get(status, ("about:blank", "Error"))
    body = Problem(type=kind, title=title, status=status, detail=detail,
                   errors=list(errors) or None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        media_type=MEDIA_TYPE, headers=dict(headers or {}))


#: The problems every endpoint may answer with, for the OpenAPI document.
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": KINDS[status][1],
             "content": {MEDIA_TYPE: {}}}
    for status in (401, 403, 413, 422)}


def invalid(field: str, message: str, location: str = "body") -> ProblemError:
    """A request refused for one field (422)."""
    return ProblemError(422, f"{field}: {message}",
                        errors=[FieldError(location=location, field=field, message=message)])


def invalid_event(bad: BadInput) -> ProblemError:
    """The event a request would send, refused by the contract: the field it names
    (``data.prospect.country: …``) is the request body's."""
    field, _, message = bad.error.partition(": ")
    return invalid(field.removeprefix("data."), message.strip() or bad.error)


def invalid_fields(errors: Sequence[Mapping[str, Any]]) -> ProblemError:
    """A request refused for the fields of pydantic's ``errors`` (their ``loc`` starts with
    where: ``body``, ``query``, ``path``, ``header``), each named, never its value."""
    found = []
    for entry in errors:
        where, *path = [str(part) for part in entry.get("loc", ())] or ["body"]
        if entry.get("type") == "json_invalid":  # its place is a position in the text
            path = []
        found.append(FieldError(location=where, field=".".join(path) or where,
                                message=entry["msg"]))
    return ProblemError(422, "; ".join(f"{e.field}: {e.message}" for e in found),
                        errors=found)


def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return _problem(request, invalid_fields(error.errors()))


def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else KINDS.get(
        error.status_code, ("", "Error"))[1]
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no endpoint {request.url.path}"
    return problem(error.status_code, detail, headers=error.headers)


def _problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem(error.status, error.detail, errors=error.errors, headers=error.headers)


def _bad_input(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BadInput)
    return _problem(request, invalid_event(error))


def _store(request: Request, error: Exception) -> JSONResponse:
    log.error("event store unreachable", extra={"path": request.url.path,
                                                 "error": " ".join(str(error).split())})
    return problem(503, "the event store cannot be read now; try again later")


def _kafka(request: Request, error: Exception) -> JSONResponse:
    log.error("kafka unreachable", extra={"path": request.url.path,
                                          "error": " ".join(str(error).split())})
    return problem(503, "the request could not be sent to Kafka now; nothing was sent, "
                   "try again later")


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("request failed", exc_info=error, extra={"path": request.url.path})
    return problem(500, "the request failed; it is logged")


def install(app: FastAPI) -> None:
    """Every error of ``app`` as a problem, and bodies over :data:`BODY_LIMIT` refused."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(BadInput, _bad_input)
    app.add_exception_handler(KafkaError, _kafka)
    for kind in STORE_ERRORS:
        app.add_exception_handler(kind, _store)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit, limit=BODY_LIMIT)


class BodyLimit:
    """Refuses (413) a request whose body is larger than ``limit`` bytes: at once when its
    ``Content-Length`` says so, or as soon as more has arrived (a chunked body)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.limit // 1024} KiB"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, self._detail())(scope, receive, send)
