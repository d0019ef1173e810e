"""Accuracy of the SQL lineage analyzer on the shared sqllineage cases: prints table- and
column-level accuracy and fails below the level reached. Raise the ratchets when the
analyzer improves; never lower them."""

from __future__ import annotations

import pytest

from .sqlcases import CASES, load_cases, score

# Reached: 285/292 table cases, 211/221 column cases.
TABLE_RATCHET = 0.976
COLUMN_RATCHET = 0.954

pytestmark = pytest.mark.skipif(
    not CASES.exists(), reason=f"shared SQL lineage cases not found at {CASES}"
)


def test_accuracy_on_the_shared_cases(capsys: pytest.CaptureFixture[str]) -> None:
    result = score(load_cases())
    with capsys.disabled():
        print(
            f"\nSQL lineage accuracy: table {result.table:.1%} "
            f"({result.table_ok}/{result.table_total}), column {result.column:.1%} "
            f"({result.column_ok}/{result.column_total})"
        )
    assert result.table_total == 292 and result.column_total == 221
    assert result.table >= TABLE_RATCHET, [c["test"] for c, _, _ in result.failures]
    assert result.column >= COLUMN_RATCHET, [c["test"] for c, _, _ in result.failures]
