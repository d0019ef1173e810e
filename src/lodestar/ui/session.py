"""Web sessions: a login exchanges an API token for a signed cookie.

The cookie holds the token's SHA-256 hash (never the token), the session's expiry and its CSRF
token, signed with HMAC-SHA256 by a key every replica shares. The server checks the signature
and the expiry on every request and resolves the hash through `TokenService`, so revoking the
token ends its sessions too. Nothing is kept server-side: any replica serves any session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

log = logging.getLogger("lodestar.ui")

COOKIE = "lds_session"
LOGIN_COOKIE = "lds_login"  # the login form's CSRF token, before there is a session
KEY_FILE = "session.key"


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    expires_at: float  # epoch seconds
    csrf: str


def load_key(secret: str | None, data_dir: Path) -> bytes:
    """The signing key: the configured secret, else one kept in data_dir (made on first use).
    When data_dir cannot be written, a key for this process alone (sessions end at restart)."""
    if secret:
        return hashlib.sha256(secret.encode()).digest()
    path = data_dir / KEY_FILE
    try:
        if path.is_file():
            return bytes.fromhex(path.read_text().strip())
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex() + "\n")
        return key
    except FileExistsError:  # another worker made it between our check and our create
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as e:
        log.warning(
            "web sessions use a key for this process only (%s: %s); set LODESTAR_SESSION_SECRET",
            path,
            e,
        )
        return secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def _mac(self, purpose: str, payload: str) -> str:
        return _b64(hmac.new(self.key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, value: object) -> str:
        payload = _b64(orjson.dumps(value))
        return f"{payload}.{self._mac(purpose, payload)}"

    def unsign(self, purpose: str, text: str | None) -> object | None:
        """The signed value, or None when missing, tampered with or signed for another use."""
        if not text or "." not in text or len(text) > 4096:
            return None
        payload, _, mac = text.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(purpose, payload)):
            return None
        try:
            value: object = orjson.loads(_unb64(payload))
            return value
        except (ValueError, orjson.JSONDecodeError):
            return None

    def new_session(self, token_hash: str, hours: float) -> tuple[Session, str]:
        session = Session(token_hash, time.time() + hours * 3600, secrets.token_urlsafe(24))
        value = {"h": session.token_hash, "exp": session.expires_at, "csrf": session.csrf}
        return session, self.sign(COOKIE, value)

    def session(self, cookie: str | None) -> Session | None:
        """The session a cookie carries; None when absent, forged or expired."""
        value = self.unsign(COOKIE, cookie)
        if not isinstance(value, dict):
            return None
        h, exp, csrf = value.get("h"), value.get("exp"), value.get("csrf")
        if not (isinstance(h, str) and isinstance(exp, int | float) and isinstance(csrf, str)):
            return None
        if exp <= time.time():
            return None
        return Session(h, float(exp), csrf)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; never true for an empty one."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def mask(token: str) -> str:
    """The CSRF token as a form carries it: XORed with a fresh pad each time it is written, so
    a compressed page never repeats the same secret bytes (BREACH)."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return _b64(pad + bytes(a ^ b for a, b in zip(pad, raw, strict=True)))


def unmask(value: str | None) -> str | None:
    if not value or len(value) > 512:
        return None
    try:
        data = _unb64(value)
    except ValueError:
        return None
    half = len(data) // 2
    if half == 0 or len(data) % 2:
        return None
    pad, body = data[:half], data[half:]
    try:
        return bytes(a ^ b for a, b in zip(pad, body, strict=True)).decode()
    except UnicodeDecodeError:
        return None
