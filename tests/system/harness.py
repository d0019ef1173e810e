"""A real Lodestar server in a uvicorn subprocess, for the system tests (see conftest.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVICE, DATABASE = "wh", "wh.db"


@dataclass(frozen=True)
class Backend:
    name: str
    data_dir: Path
    database_url: str

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
        env["LODESTAR_DATA_DIR"] = str(self.data_dir)
        if self.name == "postgres":
            env["LODESTAR_DATABASE_URL"] = self.database_url
        return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One `uvicorn --factory lodestar.api.app:app_from_env` process."""

    def __init__(self, backend: Backend, log_path: Path) -> None:
        self.backend = backend
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.token = ""

    def start(self, timeout: float = 60.0) -> Server:
        for _ in range(3):
            if self._start(timeout):
                break
        else:
            raise RuntimeError(f"no free port for the server:\n{self.log_tail()}")
        self.token = (self.backend.data_dir / "admin.token").read_text().strip()
        return self

    def _start(self, timeout: float) -> bool:
        """Start and wait until healthy; False if another process took the port first."""
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "lodestar.api.app:app_from_env",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=self.backend.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                if b"address already in use" in self.log_path.read_bytes()[offset:]:
                    return False
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url}/api/v1/health", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not answer in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    # -- helpers over the API ----------------------------------------------------------------
    def seed_schema(self, c: httpx.Client, name: str = "raw") -> str:
        """Service `wh`, database `wh.db` and schema `wh.db.<name>`; returns the schema FQN."""
        for path, body in (
            ("services", {"name": "wh", "category": "database", "service_type": "postgres"}),
            ("databases", {"name": "db", "service": SERVICE}),
            ("schemas", {"name": name, "database": DATABASE}),
        ):
            r = c.put(f"/api/v1/{path}", json=body)
            assert r.status_code in (200, 201), r.text
        return f"{DATABASE}.{name}"

    def events(self, c: httpx.Client, after: int = 0) -> list[dict[str, Any]]:
        """Every event after the cursor, following the feed page by page."""
        out: list[dict[str, Any]] = []
        cursor = str(after)
        while True:
            r = c.get("/api/v1/events", params={"after": cursor, "limit": 1000})
            assert r.status_code == 200, r.text
            page = r.json()
            out.extend(page["data"])
            if not page["data"]:
                return out
            cursor = page["paging"]["after"]

    def last_event(self, c: httpx.Client) -> int:
        r = c.get("/api/v1/health")
        assert r.status_code == 200, r.text
        seq: int = r.json()["last_event"]
        return seq
