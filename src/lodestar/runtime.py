"""Process-wide tuning shared by the server and the CLI's long-running commands."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_tuned = False


def tune_gc() -> None:
    """Collect cyclic garbage less often. A bulk write allocates hundreds of thousands of
    small dicts and lists that are freed by reference counting anyway; with the default
    threshold (700) the cyclic collector ran through them so often that it took about half
    of the server's CPU during ingestion (bench/bulk_ingest.py, "of it GC"). Objects alive
    at start-up are frozen out of the collector's sight altogether. Only the young
    generations are collected first: a full collection took 25-45 ms of every start and
    found nothing to free (start-up makes modules and classes, not garbage)."""
    global _tuned
    if _tuned:
        return
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    _tuned = True


_pause_lock = threading.Lock()
_pauses = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection while a bulk chunk is planned and written: its objects all die by
    reference counting when the chunk ends, and scanning them mid-way only costs time. Nested
    and concurrent pauses are counted; the collector is back on when the last one ends."""
    global _pauses
    with _pause_lock:
        _pauses += 1
        if _pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0:
                gc.enable()
