"""The web console in a real browser: ``dealreg up`` in a process of its own (the three
services, the projections and the API with its console) on the test's broker and stores,
its stderr kept to read the logs, and headless Chromium from Debian's ``chromium`` package
driven by Playwright (``make browser`` installs it; no browser is downloaded).

Screenshots go to ``DEALREG_SCREENSHOTS`` when it names a folder (``make screenshots``
writes docs/console/), else to the test's temporary folder."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.async_api import BrowserContext, Page, ViewportSize, async_playwright

from dealreg.local_broker import free_port
from dealreg.settings import Settings
from tests.support.processes import REPO, StderrLines
from tests.support.running import eventually

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP: ViewportSize = {"width": 1100, "height": 760}
PHONE: ViewportSize = {"width": 390, "height": 844}
#: The longest wait for a page, a click or an event of the services.
WAIT_S = 90


@dataclass
class Stack:
    """``dealreg up`` serving the console at ``url``; ``logs``: its stderr lines."""

    settings: Settings
    url: str
    logs: StderrLines


@asynccontextmanager
async def dealreg_up(settings: Settings) -> AsyncIterator[Stack]:
    """``dealreg up`` on ``settings`` (JSON logs), until the block ends; then stopped as
    Ctrl-C stops it, every line it logged still in ``logs``."""
    settings = settings.with_overrides(api_port=free_port(), log_format="json",
                                       log_level="INFO")
    up = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "dealreg.cli", "up"], cwd=REPO,
        env=settings.child_environ(), text=True, stderr=subprocess.PIPE)
    logs = StderrLines(up)
    url = f"http://127.0.0.1:{settings.api_port}"
    try:
        await asyncio.to_thread(logs.wait_for, "dealreg api:", timeout_s=120)
        await eventually(lambda: _answers(url), timeout_s=60)
        yield Stack(settings, url, logs)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(up.wait, 60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/signin", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@asynccontextmanager
async def chromium(tmp_path: Path, viewport: ViewportSize = LAPTOP
                   ) -> AsyncIterator[BrowserContext]:
    """A browser window of its own (a fresh profile: no cookie, no cache). Fails, never
    skips, without Debian's chromium."""
    assert await asyncio.to_thread(CHROMIUM.exists), (
        f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package "
        "(apt-get install chromium)")
    profile = tmp_path / f"profile-{os.urandom(4).hex()}"
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, viewport=viewport)
        context.set_default_timeout(WAIT_S * 1000)  # a busy machine: generous, not timed
        try:
            yield context
        finally:
            await context.close()


async def sign_in(context: BrowserContext, stack: Stack, token: str) -> Page:
    """A page of ``context`` signed in with ``token``, on the console's first page."""
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(f"{stack.url}/")
    await page.fill("#token", token)
    await follow(page, "button:has-text('Sign in')")
    await page.wait_for_selector("form.signout")
    return page


async def follow(page: Page, selector: str) -> None:
    """Click what ``selector`` names (a link, a form's button) and wait for the page it
    leads to."""
    async with page.expect_navigation():
        await page.click(selector)


async def reload_until(page: Page, text: str, timeout_s: float = WAIT_S, *,
                       exactly_in: str | None = None) -> None:
    """Reload ``page`` until it shows ``text`` (what the services decide arrives in a
    moment, not at once); with ``exactly_in``, until the element of that selector says
    exactly ``text``."""
    deadline = asyncio.get_running_loop().time() + timeout_s

    async def shown() -> bool:
        if exactly_in is None:
            return text in await page.inner_text("main")
        found = page.locator(exactly_in)
        return await found.count() == 1 and await found.inner_text() == text

    while not await shown():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{text!r} never shown on {page.url}:\n"
                                 f"{await page.inner_text('main')}")
        await asyncio.sleep(0.5)
        await page.reload()


def screenshots(tmp_path: Path) -> Path:
    """Where the browser tests' screenshots go."""
    configured = os.environ.get("DEALREG_SCREENSHOTS")
    folder = (REPO / configured) if configured else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def fits_the_width(page: Page) -> bool:
    """Whether the page shows without horizontal scrolling."""
    width: bool = await page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth")
    return width
