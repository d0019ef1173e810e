"""Bounded retries with exponential backoff and full jitter, for transient failures only."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lodestar.ingest.errors import PermanentError, TransientError

T = TypeVar("T")

# Fragments of driver messages that mean "try again" or "give up".
_TRANSIENT = (
    "connection refused",
    "connection reset",
    "server closed the connection",
    "terminating connection",
    "could not connect",
    "connection timed out",
    "timeout",
    "timed out",
    "lock wait timeout",
    "deadlock",
    "database is locked",
    "lost connection",
    "gone away",
    "too many connections",
    "too many clients",
    "remaining connection slots",
    "the database system is starting up",
    "the database system is shutting down",
    "temporarily unavailable",
    "canceling statement due to lock timeout",
)
_PERMANENT = (
    "password authentication failed",
    "access denied",
    "permission denied",
    "authentication failed",
    "does not exist",
    "unknown database",
    "no such file",
    "invalid password",
    "not authorized",
)


def classify(exc: BaseException) -> type[TransientError] | type[PermanentError]:
    """Transient or permanent, from the exception type and the driver's message."""
    if isinstance(exc, TransientError):
        return TransientError
    if isinstance(exc, PermanentError):
        return PermanentError
    text = str(exc).lower()
    if any(f in text for f in _PERMANENT):
        return PermanentError
    if isinstance(exc, ConnectionError | TimeoutError) or any(f in text for f in _TRANSIENT):
        return TransientError
    return PermanentError


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(5, ge=1, le=50, description="Tries in all, the first included.")
    base_delay: float = Field(0.5, ge=0.0, le=60.0, description="Seconds before the 1st retry.")
    max_delay: float = Field(30.0, ge=0.0, le=600.0, description="Longest wait between tries.")

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return random.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))

    def run(
        self,
        what: str,
        fn: Callable[[], T],
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[int, BaseException], None] | None = None,
    ) -> T:
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                kind = classify(exc)
                if kind is PermanentError:
                    if isinstance(exc, PermanentError):
                        raise
                    raise PermanentError(f"{what}: {_first_line(exc)}") from exc
                if attempt + 1 >= self.attempts:
                    raise TransientError(
                        f"{what}: still failing after {self.attempts} tries: {_first_line(exc)}"
                    ) from exc
                if on_retry is not None:
                    on_retry(attempt + 1, exc)
                sleep(self.delay(attempt))
        raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
