"""Who is signed in to the web console: sessions kept in the API process, known to the
browser only by a random id in an HTTP-only, SameSite=Strict cookie.

A session holds the name of the API token it was opened with (never the token) and its
CSRF token, the hidden field every form of the console sends back. A visitor who has not
signed in has a session too (the sign-in form needs its CSRF token); signing in replaces it
with a new one, new id and new CSRF token. A session ends when its holder signs out, after
:data:`IDLE_S` without a request, or when the API process stops; its token is looked up at
every request, so a revoked token ends it at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "dealreg_session"
#: A session unused this long ends (seconds).
IDLE_S = 8 * 3600
#: The most sessions kept signed in, and apart the most not signed in; beyond it the
#: longest unused of its kind ends first.
MOST = 10_000


@dataclass
class Session:
    """One browser's session: its CSRF token and, once signed in, its API token's name."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_name: str | None = None
    seen: float = 0.0

    def sent_back(self, csrf: str | None) -> bool:
        """Whether a form's hidden CSRF field is this session's."""
        return csrf is not None and secrets.compare_digest(csrf.encode(), self.csrf.encode())


class Sessions:
    """Every open session, by id; safe to use from the API's threads. Sessions not signed
    in are kept apart, so that many visitors who never sign in (a flood of requests) end
    only each other's sessions, never a signed-in one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._signed: OrderedDict[str, Session] = OrderedDict()
        self._anonymous: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, session_id: str | None) -> Session | None:
        """The open session of ``session_id`` (None when it ended or never was)."""
        if not session_id:
            return None
        with self._lock:
            for kept in (self._signed, self._anonymous):
                found = kept.get(session_id)
                if found is None:
                    continue
                now = self._clock()
                if now - found.seen > IDLE_S:
                    del kept[session_id]
                    return None
                found.seen = now
                kept.move_to_end(session_id)
                return found
            return None

    def open(self, token_name: str | None = None) -> tuple[str, Session]:
        """A new session (signed in as ``token_name``, or not yet) and its id."""
        session_id = secrets.token_urlsafe(32)
        session = Session(token_name=token_name, seen=self._clock())
        with self._lock:
            kept = self._anonymous if token_name is None else self._signed
            kept[session_id] = session
            while len(kept) > MOST:
                kept.popitem(last=False)
        return session_id, session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            for kept in (self._signed, self._anonymous):
                kept.pop(session_id or "", None)
