"""Bearer tokens: issued once in clear, stored as SHA-256 hashes, resolved to principals.

Resolving is on the path of every request, so resolved tokens are cached per process. The
cache never outlives a revocation by more than `RECHECK_SECONDS`: before trusting it, a process
looks at the tokens table's revocation mark (one small query) if it has not done so for that
long, and drops the whole cache when the mark moved. The process that revokes drops its cache
at once. Expiry is checked against the cached expiry time on every hit."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from lodestar.auth.principal import ROLES, Principal, Role
from lodestar.catalog.errors import AlreadyExists, InvalidInput, NotFound
from lodestar.model.records import Origin, now_us, us_to_iso
from lodestar.store import tokens as q
from lodestar.store.engine import Store
from lodestar.store.tokens import RevocationMark, revocation_mark

PREFIX = "lds_"
# A revocation made anywhere is seen by every process within this many seconds.
RECHECK_SECONDS = 1.0
# How long a resolved token (known, or unknown) is cached between those checks.
_KNOWN_SECONDS = 300.0
_UNKNOWN_SECONDS = 5.0
_MAX_CACHED = 10_000


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal | None
    expires_at: int | None  # epoch microseconds
    until: float  # time.monotonic() after which the entry is looked up again


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    role: str
    user: str | None
    created_at: str
    expires_at: str | None
    revoked: bool


def check_token_name(name: str) -> None:
    """One rule for token names, so each is visible and unambiguous and can be revoked by
    name over HTTP: 1 to 128 printable characters (no control, zero-width, bidirectional or
    other invisible ones, no space but U+0020), no white space at either end, no `/`."""
    problem = None
    if not name or len(name) > 128:
        problem = "a token needs a name of 1 to 128 characters"
    elif not name.isprintable():
        problem = (
            "a token name must be printable: no control, zero-width or bidirectional "
            "characters, and no space but the plain one"
        )
    elif name != name.strip():
        problem = "a token name must not start or end with white space"
    elif "/" in name:
        problem = "a token name must not contain '/' (it is revoked by name in a URL path)"
    if problem:
        raise InvalidInput(problem, errors=[{"loc": ["name"], "msg": problem}])


class TokenService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped whenever the cache is dropped
        self._mark: RevocationMark | None = None
        self._next_check = 0.0

    def issue(
        self, name: str, role: str, *, user: str | None = None, ttl_days: int | None = None
    ) -> str:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        check_token_name(name)
        if role == "editor" and not user:
            raise InvalidInput("an editor token acts as a user: pass the user's name")
        token = PREFIX + secrets.token_urlsafe(32)
        now = now_us()
        taken = AlreadyExists(f"a token named {name!r} exists; pick another name")
        try:
            with self.store.write() as conn:
                if q.by_name(conn, name) is not None:
                    raise taken
                q.insert(
                    conn,
                    {
                        "id": str(uuid.uuid4()),
                        "name": name,
                        "role": role,
                        "token_hash": hash_token(token),
                        "user_fqn": user,
                        "created_at": now,
                        "expires_at": now + ttl_days * 86_400_000_000 if ttl_days else None,
                        "revoked_at": None,
                    },
                )
        except IntegrityError:
            # Another process issued the same name between our check and our insert
            # (PostgreSQL; SQLite's write lock already serialises the two).
            raise taken from None
        return token

    def resolve(self, token: str) -> Principal | None:
        """The principal a token stands for; None when unknown, expired or revoked."""
        return self.resolve_hash(hash_token(token))

    def resolve_hash(self, h: str) -> Principal | None:
        """The principal of the token with this hash (a web session keeps the hash, never the
        token); None when unknown, expired or revoked."""
        now = time.monotonic()
        if now >= self._next_check:
            self._check_revocations(now)
        hit = self._cache.get(h)
        if hit is not None and now < hit.until:
            if hit.expires_at is not None and hit.expires_at <= _now_us():
                return None
            return hit.principal
        generation = self._generation
        with self.store.read() as conn:
            row = q.by_hash(conn, h)
        principal: Principal | None = None
        expires_at: int | None = None
        if row and row["revoked_at"] is None:
            role: Role = row["role"]
            origin = Origin("integration", row["name"]) if role == "bot" else Origin("person")
            principal = Principal(row["name"], role, row["user_fqn"], origin)
            expires_at = row["expires_at"]
        ttl = _KNOWN_SECONDS if principal is not None else _UNKNOWN_SECONDS
        with self._lock:
            # A row read before a revocation that dropped the cache meanwhile is not kept.
            if generation == self._generation:
                if len(self._cache) >= _MAX_CACHED:
                    self._cache.clear()
                self._cache[h] = _Cached(principal, expires_at, now + ttl)
        if expires_at is not None and expires_at <= _now_us():
            return None
        return principal

    def _check_revocations(self, now: float) -> None:
        with self.store.read() as conn:
            mark = revocation_mark(conn)
        with self._lock:
            if mark != self._mark:
                self._mark = mark
                self._drop_cache()
            self._next_check = now + RECHECK_SECONDS

    def _drop_cache(self) -> None:
        self._cache.clear()
        self._generation += 1

    def revoke(self, name: str) -> None:
        with self.store.write() as conn:
            if not q.revoke(conn, name, now_us()):
                raise NotFound(f"no active token named {name!r}")
        with self._lock:
            self._drop_cache()

    def list(self) -> list[TokenInfo]:
        with self.store.read() as conn:
            rows = q.all_tokens(conn)
        return [
            TokenInfo(
                r["name"],
                r["role"],
                r["user_fqn"],
                us_to_iso(r["created_at"]),
                us_to_iso(r["expires_at"]) if r["expires_at"] else None,
                r["revoked_at"] is not None,
            )
            for r in rows
        ]

    def ensure_admin(self, data_dir: Path) -> tuple[Path, str] | None:
        """On first start, issue an admin token and keep it in a file only its owner reads.

        Several workers (`uvicorn --workers N`) or replicas may start on the same empty
        database at once: the one whose token is stored writes the file, the others find
        that admin and go on."""
        with self.store.read() as conn:
            if q.active_admins(conn, now_us()) > 0:
                return None
            taken = {r["name"] for r in q.all_tokens(conn)}
        name = "admin"
        i = 1
        while name in taken:
            i += 1
            name = f"admin-{i}"
        try:
            token = self.issue(name, "admin")
        except AlreadyExists:
            with self.store.read() as conn:
                if q.active_admins(conn, now_us()) > 0:
                    return None
            raise
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / "admin.token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return path, token


def _now_us() -> int:
    return time.time_ns() // 1000
