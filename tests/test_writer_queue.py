"""SQLite writers queue on a file lock before BEGIN IMMEDIATE (store.engine.WriterQueue)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from lodestar.store import open_store
from lodestar.store.engine import WriterQueue


def test_threads_take_turns(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db.writers")
    log: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with queue.turn():
            log.append("first in")
            first_in.set()
            time.sleep(0.2)
            log.append("first out")

    def second() -> None:
        first_in.wait()
        with queue.turn():
            log.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log == ["first in", "first out", "second in"]


def test_processes_take_turns(tmp_path: Path) -> None:
    lock, log = tmp_path / "db.writers", tmp_path / "holder.log"
    script = (
        "import time; from pathlib import Path; from lodestar.store.engine import WriterQueue\n"
        f"log = Path({str(log)!r})\n"
        f"with WriterQueue(Path({str(lock)!r})).turn():\n"
        "    log.write_text('held\\n'); print('held', flush=True); time.sleep(0.5)\n"
        "    log.write_text('held\\nreleased\\n')\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "held"
        with WriterQueue(lock).turn():
            # Our turn comes only after the other process finished its own.
            assert log.read_text().split() == ["held", "released"]
        p.wait(timeout=10)


def test_a_writer_never_waits_past_its_patience(tmp_path: Path) -> None:
    lock = tmp_path / "db.writers"
    release, held, let_go = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with WriterQueue(lock).turn():
            held.set()
            release.wait(10)
        let_go.set()

    t = threading.Thread(target=hold)
    t.start()
    held.wait()
    start = time.monotonic()
    try:
        with WriterQueue(lock, patience=0.05).turn():
            waited = time.monotonic() - start
            holder_still_in = not let_go.is_set()
    finally:
        release.set()
        t.join()
    # It queued for its patience, then went ahead while the holder still had its turn.
    assert holder_still_in
    assert 0.05 <= waited < 2.0, waited


def test_sqlite_store_queues_its_writes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        with store.write():
            pass
        assert (tmp_path / "catalog.db.writers").exists()
    finally:
        store.dispose()
