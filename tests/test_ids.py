"""Asset ids are version 7 UUIDs: valid UUIDs, unique, and ordered by creation time."""

from __future__ import annotations

import time
import uuid

from lodestar.model.ids import new_id


def test_ids_are_rfc_9562_version_7_uuids() -> None:
    for value in (new_id() for _ in range(1000)):
        u = uuid.UUID(value)
        assert str(u) == value
        assert u.version == 7
        assert u.variant == uuid.RFC_4122


def test_ids_carry_the_millisecond_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= uuid.UUID(value).int >> 80 <= after


def test_ids_made_later_sort_later_and_none_repeat() -> None:
    first = [new_id() for _ in range(10_000)]
    time.sleep(0.002)
    later = new_id()
    assert later > max(first)
    assert len(set(first)) == len(first)


def test_a_tables_column_ids_in_one_call_are_each_columns_own_id() -> None:
    from lodestar.model.ids import column_id, column_ids

    table = new_id()
    names = ["id", "Customer Id", "naïve", "emoji 🚀", "a" * 128, "x/y"]
    assert column_ids(table, names) == [column_id(table, n) for n in names]
    assert column_ids(table, []) == []
