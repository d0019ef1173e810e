"""Bearer tokens: issued once in clear, stored as SHA-256 hashes, resolved to principals."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lodestar.auth.principal import ROLES, Principal, Role
from lodestar.catalog.errors import AlreadyExists, InvalidInput, NotFound
from lodestar.model.records import Origin, now_us, us_to_iso
from lodestar.store import tokens as q
from lodestar.store.engine import Store

PREFIX = "lds_"
_CACHE_SECONDS = 5.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    role: str
    user: str | None
    created_at: str
    expires_at: str | None
    revoked: bool


class TokenService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def issue(
        self, name: str, role: str, *, user: str | None = None, ttl_days: int | None = None
    ) -> str:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        if not name or len(name) > 128:
            raise InvalidInput("a token needs a name of 1 to 128 characters")
        if role == "editor" and not user:
            raise InvalidInput("an editor token acts as a user: pass the user's name")
        token = PREFIX + secrets.token_urlsafe(32)
        now = now_us()
        with self.store.write() as conn:
            if q.by_name(conn, name) is not None:
                raise AlreadyExists(f"a token named {name!r} exists; pick another name")
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
        return token

    def resolve(self, token: str) -> Principal | None:
        """The principal a token stands for; None when unknown, expired or revoked."""
        h = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
            if hit and now - hit[0] < _CACHE_SECONDS:
                return hit[1]
        with self.store.read() as conn:
            row = q.by_hash(conn, h)
        principal: Principal | None = None
        if (
            row
            and row["revoked_at"] is None
            and (row["expires_at"] is None or row["expires_at"] > now_us())
        ):
            role: Role = row["role"]
            origin = Origin("integration", row["name"]) if role == "bot" else Origin("person")
            principal = Principal(row["name"], role, row["user_fqn"], origin)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now, principal)
        return principal

    def revoke(self, name: str) -> None:
        with self.store.write() as conn:
            if not q.revoke(conn, name, now_us()):
                raise NotFound(f"no active token named {name!r}")
        with self._lock:
            self._cache.clear()

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
        """On first start, issue an admin token and keep it in a file only its owner reads."""
        with self.store.read() as conn:
            if q.active_admins(conn, now_us()) > 0:
                return None
            taken = {r["name"] for r in q.all_tokens(conn)}
        name = "admin"
        i = 1
        while name in taken:
            i += 1
            name = f"admin-{i}"
        token = self.issue(name, "admin")
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / "admin.token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return path, token
