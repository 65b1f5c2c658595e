"""Who calls: a bearer token (``Authorization: Bearer TOKEN``) of ``dealreg tokens``, and the
roles each endpoint admits. A missing, unknown or revoked token is refused with 401, a role
the endpoint does not admit with 403."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dealreg.api.problems import ProblemError
from dealreg.api.stores import Stores
from dealreg.api.tokens import Role

_BEARER = HTTPBearer(auto_error=False, scheme_name="token",
                     description="an API token of `dealreg tokens create`")


@dataclass(frozen=True)
class Caller:
    """The holder of the token of a request: its name (who acted, in the events it sends),
    its role and, for a partner, the partner."""

    name: str
    role: Role
    partner_id: str | None


def stores(request: Request) -> Stores:
    found: Stores = request.app.state.stores
    return found


def caller(request: Request,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
           ) -> Caller:
    """The holder of the request's bearer token (401 without a valid one)."""
    if credentials is None:
        raise ProblemError(401, "send an API token as Authorization: Bearer TOKEN "
                           "(dealreg tokens create)", headers={"WWW-Authenticate": "Bearer"})
    token = stores(request).tokens.authenticate(credentials.credentials)
    if token is None:
        raise ProblemError(401, "the API token is unknown or revoked",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    found = Caller(token.name, token.role, token.partner_id)
    request.state.caller = found  # for the request's log line: its name and role
    return found


class Admits:
    """The dependency of an endpoint that ``roles`` may call (403 for any other)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    def __call__(self, who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role not in self.roles:
            article = "an" if who.role[0] in "aeiou" else "a"
            raise ProblemError(403, f"{article} {who.role} token may not call this endpoint "
                               f"(it is for {' or '.join(self.roles)})")
        return who
