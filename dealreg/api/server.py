"""Serving the HTTP API with uvicorn, on ``DEALREG_API_HOST:DEALREG_API_PORT``: ``dealreg
api`` on its own, and inside ``dealreg up``. The command that runs it owns the signals and
stops it; uvicorn's own access log is off (the API logs each request itself, without the
query string)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterator

import uvicorn

from dealreg.actions.producing import Producer
from dealreg.api.app import create_app
from dealreg.api.stores import open_stores
from dealreg.settings import Settings

#: How long open requests (an export being streamed) may take to finish once stopping.
GRACE_S = 10


class CannotListenError(OSError):
    """The API's address cannot be listened on (taken, or not this machine's)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the command that runs the server stops it


def listen(settings: Settings) -> socket.socket:
    """A socket listening on the API's address."""
    family = socket.AF_INET6 if ":" in settings.api_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.api_host, settings.api_port))
        sock.listen(2048)  # connections wait from now on, while the server starts
    except OSError as error:
        sock.close()
        raise CannotListenError(f"the HTTP API cannot listen on {settings.api_host}:"
                                f"{settings.api_port}: {error.strerror or error}") from None
    return sock


async def serve(settings: Settings, stop: asyncio.Event,
                sock: socket.socket | None = None) -> None:
    """The API until ``stop`` is set, on ``sock`` (default: a socket of :func:`listen`:
    :class:`CannotListenError` when the address is taken)."""
    sock = sock or listen(settings)
    producer = Producer(settings)
    opened = contextlib.ExitStack()
    try:
        stores = await asyncio.to_thread(opened.enter_context,
                                         open_stores(settings, producer.send))
        server = _Server(uvicorn.Config(
            create_app(stores), log_config=None, access_log=False, lifespan="off",
            server_header=False, timeout_graceful_shutdown=GRACE_S))
        host, port = sock.getsockname()[:2]
        where = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        print(f"dealreg api: {where} | OpenAPI at {where}/openapi.json, docs at {where}/docs "
              f"| events in {settings.store_description()}", file=sys.stderr, flush=True)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        await serving
    finally:
        await producer.close()
        await asyncio.to_thread(opened.close)
        sock.close()
