"""The console's errors as pages a person can read: the API's problem (its status, title,
message and the fields it names) shown in words, never a traceback nor JSON; a visitor who
must sign in is sent to the sign-in page. Requests to the API (``/api``, ``/openapi.json``,
``/docs``) keep their RFC 9457 problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from dealreg.console.web import SignInNeededError, Visitor, render, sign_in_path, visitor

API_PATHS = ("/api/", "/openapi.json", "/docs")
#: What a person is told, by status, beside the problem's own message.
ADVICE = {
    400: "The request could not be understood.",
    403: "Your sign-in does not allow this page or this action.",
    404: "There is nothing here, or nothing you may see.",
    405: "This page cannot be used that way.",
    409: "dealreg refused it as it stands now.",
    413: "What you sent is too large.",
    422: "Some of what you entered is not valid:",
    500: "Something went wrong on dealreg's side; it is logged.",
    503: "dealreg cannot reach its event store or Kafka right now. Nothing was sent: try "
         "again in a moment.",
}

Handler = Callable[[Request, Exception], Any]


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PATHS)


def install(app: FastAPI) -> None:
    """Every error handler of ``app`` answers a console page with a page of its own."""
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _for_pages(handler)
    app.exception_handlers[SignInNeededError] = _sign_in


def _for_pages(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Any:
        answer = handler(request, error)
        if is_api(request):
            return answer
        assert isinstance(answer, Response)
        problem = json.loads(bytes(answer.body))
        return error_page(request, problem["status"], problem["title"], problem["detail"],
                          problem.get("errors") or [])

    return handle


def error_page(request: Request, status: int, title: str, detail: str,
               errors: list[dict[str, str]]) -> Response:
    return render(request, "error.html", _visitor(request), code=status, title=title,
                  detail=detail, errors=errors, advice=ADVICE.get(status, ""))


def _visitor(request: Request) -> Visitor | None:
    try:
        return visitor(request)
    except SignInNeededError:
        return None


def _sign_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInNeededError)
    where = sign_in_path(request)
    if error.why:
        where += ("&" if "?" in where else "?") + f"why={quote(error.why, safe='')}"
    return RedirectResponse(where, status_code=303)
