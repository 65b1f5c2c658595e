"""A person using the web console through httpx (its own cookie jar: one browser each),
on the API of tests.support.api: signing in, reading pages as text, sending forms with the
CSRF token of the page they are on."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.api import Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def words(page: str) -> str:
    """A page's text, as a person reads it: tags gone, white space collapsed."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return re.sub(r" ([,.;:])", r"\1", text)


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, f"no CSRF field on the page: {words(page)[:300]}"
    return found.group(1)


@dataclass
class Person:
    client: httpx.AsyncClient

    async def get(self, path: str, **options: Any) -> httpx.Response:
        return await self.client.get(path, **options)

    async def read(self, path: str, status: int = 200) -> str:
        """The words of the page at ``path``, which must answer ``status``."""
        answer = await self.client.get(path)
        assert answer.status_code == status, (answer.status_code, words(answer.text)[:500])
        return words(answer.text)

    async def send(self, form_page: str, action: str, fields: dict[str, str]
                   ) -> httpx.Response:
        """Send a form of ``form_page`` to ``action``, with that page's CSRF token."""
        page = await self.client.get(form_page)
        return await self.client.post(action, data={"csrf": csrf_of(page.text), **fields})

    async def sign_in(self, token: str) -> httpx.Response:
        return await self.send("/signin", "/signin", {"token": token, "next": "/"})


def person(api: Api) -> Person:
    """A new browser on ``api``'s application, with no cookie yet."""
    return Person(httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app),
                                    base_url="http://dealreg.test"))


async def signed_in(api: Api, holder: str) -> Person:
    """A browser signed in with the token of ``holder`` (tests.support.api.HOLDERS)."""
    someone = person(api)
    answer = await someone.sign_in(api.tokens[holder])
    assert answer.status_code == 303, words(answer.text)[:300]
    return someone
