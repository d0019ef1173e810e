"""Start-up of several workers or replicas on one empty database (`uvicorn --workers N`, or N
replicas started together): each runs `TokenService.ensure_admin` in its lifespan, and a
worker that fails there makes uvicorn stop every worker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from lodestar.auth.tokens import TokenService
from lodestar.store import open_store


def test_workers_racing_to_issue_the_first_admin_token_all_start(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}", pool_size=4)
    try:
        results: list[tuple[Path, str] | Exception | None] = []

        def start_worker() -> None:
            try:
                results.append(TokenService(store).ensure_admin(tmp_path))
            except Exception as e:  # what would stop the worker
                results.append(e)

        # Hold the write lock so both workers find no admin and then queue for the lock:
        # the race, made certain.
        with store.write():
            workers = [threading.Thread(target=start_worker) for _ in range(2)]
            for w in workers:
                w.start()
            time.sleep(0.5)
        for w in workers:
            w.join(timeout=60)

        issued = [r for r in results if isinstance(r, tuple)]
        assert len(results) == 2 and len(issued) == 1 and None in results, results
        path, token = issued[0]
        assert path.read_text().strip() == token
        assert TokenService(store).resolve(token) is not None
    finally:
        store.dispose()
