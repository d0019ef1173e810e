"""Errors the SDK raises. Every failure is a `LodestarError`, so one `except` covers them all:

LodestarError              status, title, detail, errors (RFC 9457 problem details)
├── ServerUnreachable      no HTTP answer at all (refused, DNS, timeout); status is None
├── Unauthorized           401: no token, or an unknown/expired/revoked one
├── Forbidden              403: the token's role may not do this
├── NotFound               404
├── Conflict               409: exists already, or has children
├── PreconditionFailed     412: If-Match named a stale version
└── InvalidInput           422: the body did not validate; `errors` says where
"""

from __future__ import annotations

from typing import Any

import httpx


class LodestarError(Exception):
    """A request that failed; `str()` is one line a person can act on."""

    def __init__(
        self,
        status: int | None,
        title: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        type: str | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors: list[dict[str, Any]] = errors or []
        self.type = type
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.status} {self.title}" if self.status is not None else self.title
        text = f"{self.detail} ({head})" if self.detail else head
        extra = [_where(e) for e in self.errors[1:4]]
        if extra:
            text += "; also " + "; ".join(extra)
        return text


class ServerUnreachable(LodestarError):
    pass


class UnknownKind(LodestarError):
    pass


class Unauthorized(LodestarError):
    pass


class Forbidden(LodestarError):
    pass


class NotFound(LodestarError):
    pass


class Conflict(LodestarError):
    pass


class PreconditionFailed(LodestarError):
    pass


class InvalidInput(LodestarError):
    pass


_BY_STATUS: dict[int, type[LodestarError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: InvalidInput,
}


def _where(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error.get("loc", []) if p != "body")
    msg = str(error.get("msg", "invalid"))
    return f"{loc}: {msg}" if loc else msg


def from_problem(problem: dict[str, Any], status: int) -> LodestarError:
    """The error for a problem+json body (or anything shaped like one)."""
    code = problem.get("status")
    code = code if isinstance(code, int) else status
    errors = problem.get("errors")
    cls = _BY_STATUS.get(code, LodestarError)
    return cls(
        code,
        str(problem.get("title") or "Error"),
        str(problem.get("detail") or ""),
        errors if isinstance(errors, list) else None,
        problem.get("type") if isinstance(problem.get("type"), str) else None,
    )


def from_response(response: httpx.Response) -> LodestarError:
    """The error for a non-2xx answer, problem+json or not (a proxy's HTML page, say)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("detail" in body or "title" in body):
        return from_problem(body, response.status_code)
    text = " ".join(response.text.split())[:200]
    cls = _BY_STATUS.get(response.status_code, LodestarError)
    return cls(response.status_code, response.reason_phrase or "Error", text)


def unreachable(base_url: str, cause: httpx.TransportError) -> ServerUnreachable:
    reason = str(cause) or type(cause).__name__
    if isinstance(cause, httpx.ConnectError):
        detail = (
            f"the Lodestar server is not reachable at {base_url} ({reason}); start one with "
            "`lodestar serve` (or `lodestar demo`), or point LODESTAR_URL / --url at a "
            "running server"
        )
    elif isinstance(cause, httpx.TimeoutException):
        detail = f"the Lodestar server at {base_url} did not answer in time ({reason})"
    else:
        detail = f"the connection to the Lodestar server at {base_url} failed ({reason})"
    return ServerUnreachable(None, "Server not reachable", detail)


class NotReady(LodestarError):
    """`wait_ready` ran out of time: the asset (or something upstream) is not fresh and
    passing; `answer` is the last readiness answer, `detail` its reasons."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        reasons = "; ".join(answer.get("reasons") or []) or "not ready"
        super().__init__(None, "Not ready", f"{answer.get('fqn')}: {reasons}")
