"""Per-user chat rate limit: at most N questions in any 60 s window (web app and API).

One user must not be able to keep the single generator busy for everyone else.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from webapp.errors import WebappError


class RateLimited(WebappError):
    pass


class RateLimiter:
    def __init__(self, per_minute: int, window_s: float = 60.0):
        self.per_minute = per_minute
        self.window_s = window_s
        self._asked: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, owner: str, now: float | None = None) -> None:
        """Count one question of `owner`, or raise RateLimited with the wait in seconds."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._asked.setdefault(owner, deque())
            while times and now - times[0] >= self.window_s:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = max(1, round(self.window_s - (now - times[0])))
                raise RateLimited(
                    f"You have asked {self.per_minute} questions in the last minute, the limit. "
                    f"Please wait {wait} s."
                )
            times.append(now)
            if len(self._asked) > 10_000:  # forget users idle for a whole window
                for key in [k for k, t in self._asked.items() if now - t[-1] >= self.window_s]:
                    del self._asked[key]

    def forget(self, owner: str) -> None:
        with self._lock:
            self._asked.pop(owner, None)
