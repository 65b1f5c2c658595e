"""Who may call what: every endpoint of the API admits the roles it names and refuses the
others (403), and refuses a request without a token, with an unknown one or a revoked one
(401); bodies over 64 KiB are refused (413), malformed JSON names the body (422); every
error is a problem document; the OpenAPI document and the docs are served; and no log line
carries a token, a cookie, a contact's e-mail or a query string."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from dealreg import logs
from dealreg.actions import now
from dealreg.api.app import PREFIX, ROUTERS
from dealreg.api.auth import Admits
from dealreg.api.tokens import ROLES
from dealreg.settings import Settings
from tests.support.api import BY_ROLE, Api, running_api


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_api(settings) as running:
        yield running


def endpoints() -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(method, path, roles admitted) of every endpoint."""
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            admits = [d.call for d in _dependencies(route.dependant)
                      if isinstance(d.call, Admits)]
            assert len(admits) == 1, f"{route.path} admits no role, or several times"
            for method in route.methods or ():
                yield method, PREFIX + route.path, admits[0].roles


def _dependencies(dependant: Any) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


ENDPOINTS = sorted(endpoints())


def test_every_endpoint_admits_one_kind_of_user() -> None:
    admitted = {(method, path): roles for method, path, roles in ENDPOINTS}
    assert len(admitted) == 24
    assert {roles for roles in admitted.values()} == {(role,) for role in ROLES}
    assert admitted[("GET", "/api/v1/audit/history/{business_id}")] == ("auditor",)
    assert admitted[("POST", "/api/v1/registrations")] == ("partner",)
    assert admitted[("GET", "/api/v1/partners")] == ("sales_ops",)
    assert admitted[("POST", "/api/v1/partners")] == ("program_ops",)


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-1", path)


async def test_every_endpoint_refuses_every_other_role_and_admits_its_own(api: Api) -> None:
    for method, path, roles in ENDPOINTS:
        for role in ROLES:
            answer = await api.client.request(method, _url(path), headers=api.auth(
                BY_ROLE[role]), json={} if method == "POST" else None)
            if role in roles:
                assert answer.status_code not in (401, 403), (method, path, role)
                continue
            assert answer.status_code == 403, (method, path, role)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json() == {
                "type": "/problems/forbidden", "title": "Forbidden", "status": 403,
                "detail": f"{'an' if role == 'auditor' else 'a'} {role} token may not call "
                          f"this endpoint (it is for {' or '.join(roles)})"}
    assert api.produced.take() == []


async def test_a_sales_ops_token_cannot_read_the_audit(api: Api) -> None:
    for path in ("/api/v1/audit/history/d-1", "/api/v1/audit/verification",
                 "/api/v1/audit/export"):
        assert (await api.get("ops-lead", path)).status_code == 403
        assert (await api.get("auditor-1", path)).status_code in (200, 404)


async def test_a_missing_unknown_or_revoked_token_is_refused(api: Api) -> None:
    revoked = api.stores.tokens.create("leaver", "sales_ops", None, now())
    assert (await api.client.get("/api/v1/disputes", headers={
        "Authorization": f"Bearer {revoked}"})).status_code == 200
    api.stores.tokens.revoke("leaver", now())
    for method, path, _ in ENDPOINTS:
        for headers in ({}, {"Authorization": "Bearer not-a-token"},
                        {"Authorization": f"Bearer {revoked}"},
                        {"Authorization": f"Basic {revoked}"}):
            answer = await api.client.request(method, _url(path), headers=headers)
            assert answer.status_code == 401, (method, path, headers)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            problem = answer.json()
            assert (problem["type"], problem["title"]) == ("/problems/unauthenticated",
                                                           "Not authenticated")
    unknown = await api.client.get("/api/v1/disputes",
                                   headers={"Authorization": "Bearer not-a-token"})
    gone = await api.client.get("/api/v1/disputes",
                                headers={"Authorization": f"Bearer {revoked}"})
    assert unknown.json() == gone.json()  # revoked or unknown: the same answer
    assert (await api.client.get("/api/v1/disputes", params={"access_token": revoked})
            ).status_code == 401  # never read from the query string


async def test_a_body_over_64_kib_is_refused(api: Api) -> None:
    big = json.dumps({"prospect": {"company_name": "x" * 70_000}}).encode()
    declared = await api.post("portal-a", "/api/v1/registrations",
                              content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert declared.json() == {"type": "/problems/too-large", "title": "Content too large",
                               "status": 413,
                               "detail": "the request body is larger than 64 KiB"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]

    streamed = await api.post("portal-a", "/api/v1/registrations", content=chunks(),
                              headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["type"] == "/problems/too-large"
    fits = await api.post("portal-a", "/api/v1/registrations",
                          content=json.dumps({"x": "y" * 60_000}).encode(),
                          headers={"Content-Type": "application/json"})
    assert fits.status_code == 422  # read, then refused for what it says
    assert api.produced.take() == []


async def test_malformed_json_and_unknown_endpoints_are_problems(api: Api) -> None:
    broken = await api.post("portal-a", "/api/v1/registrations", content=b'{"prospect": ',
                            headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    assert [(e["location"], e["field"]) for e in broken.json()["errors"]] == [("body", "body")]
    nowhere = await api.get("portal-a", "/api/v1/nowhere")
    assert (nowhere.status_code, nowhere.json()["type"]) == (404, "/problems/not-found")
    wrong = await api.client.delete("/api/v1/registrations", headers=api.auth("portal-a"))
    assert (wrong.status_code, wrong.headers["content-type"]) == (405,
                                                                  "application/problem+json")


async def test_the_openapi_document_and_the_docs_are_served(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    paths = {(method.upper(), path) for path, operations in document["paths"].items()
             for method in operations}
    assert paths == {(method, path) for method, path, _ in ENDPOINTS}
    assert document["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer",
        "description": "an API token of `dealreg tokens create`"}
    assert "Problem" in document["components"]["schemas"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_no_log_line_carries_a_token_an_email_a_cookie_or_a_query_string(
        api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("DEBUG", "json")
    try:
        token = api.tokens["portal-a"]
        email = "jo.buyer@acme.example"
        body = {"prospect": {"company_name": "Acme", "country": "US", "segment": "mid"},
                "contact": {"name": "Jo Buyer", "email": email},
                "estimated_value": {"amount": "1.00", "currency": "EUR"},
                "expected_close_date": "2026-06-01"}
        cookie = {"Cookie": "session=cookie-secret-123"}
        await api.post("portal-a", "/api/v1/registrations", body, headers=cookie)
        await api.post("portal-a", "/api/v1/registrations",
                       body | {"contact": {"name": "Jo", "email": f"{email} x"}})
        await api.get("portal-a", "/api/v1/registrations",
                      params={"access_token": token, "email": email}, headers=cookie)
        await api.client.get("/api/v1/registrations",
                             headers={"Authorization": f"Bearer {token}x"})
        await api.get("ops-lead", "/api/v1/policy")
    finally:
        root.handlers[:], root.level = handlers, level
    server = [line for line in capsys.readouterr().err.splitlines()  # not the test's client
              if not json.loads(line)["logger"].startswith(("httpx", "httpcore"))]
    captured = "\n".join(server)
    requests = [entry for entry in map(json.loads, server) if entry["msg"] == "request"]
    assert [(r["method"], r["path"], r["status"], r["caller"]) for r in requests] == [
        ("POST", "/api/v1/registrations", 202, "portal-a"),
        ("POST", "/api/v1/registrations", 422, "portal-a"),
        ("GET", "/api/v1/registrations", 200, "portal-a"),
        ("GET", "/api/v1/registrations", 401, None),
        ("GET", "/api/v1/policy", 403, "ops-lead")]
    for secret in (*api.tokens.values(), "jo.buyer", "cookie-secret", "access_token",
                   "Bearer", "acme.example"):
        assert secret not in captured
