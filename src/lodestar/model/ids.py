"""Asset ids: time-ordered UUIDs (version 7, RFC 9562).

A random (version 4) id lands at a random place in every index that holds it (the assets'
primary key, version records, edges from and to it), so a bulk write touches a different
B-tree page for nearly every row. A version 7 id starts with the millisecond it was made, so
ids made together sort together and a bulk write appends to the same few pages: inserting the
edges of 10,000 tables took half the time in SQLite. They are still ordinary UUIDs.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid


def new_id() -> str:
    """A fresh version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 6 are replaced below
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | rand
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


# Column ids are derived, not drawn: the same table and name give the same id everywhere
# (the write path, migrations, a connector naming a column it has not looked up), so a renamed
# column is a new column. An id is its table's id up to the third group (64 bits: for a
# version 7 id, its time), then 64 bits of a hash of the table id and the column name. So the
# columns of a bulk write sort with their tables, and a column found by id is one range probe
# of the columns' primary key (asset id, name) on its table's prefix: the table needs no second
# index. Migration 0003 holds a copy of this function: change neither alone.


def column_id(asset_id: str, name: str) -> str:
    """The id of the column `name` of the asset (table) `asset_id`."""
    h = hashlib.blake2b(f"{asset_id}/{name}".encode(), digest_size=8).hexdigest()
    return f"{asset_id[:19]}{h[:4]}-{h[4:16]}"


def column_ids(asset_id: str, names: list[str]) -> list[str]:
    """`column_id` of each name, for the columns of one table: the hash of the shared
    `asset_id/` prefix is computed once and copied per name (a bulk create makes 30 a table)."""
    prefix = asset_id[:19]
    seeded = hashlib.blake2b(f"{asset_id}/".encode(), digest_size=8)
    out: list[str] = []
    for name in names:
        h = seeded.copy()
        h.update(name.encode())
        d = h.hexdigest()
        out.append(f"{prefix}{d[:4]}-{d[4:16]}")
    return out


def column_table_prefix(column: str) -> str:
    """The prefix every id of the column's table starts with."""
    return column[:18]
