"""Reading query-log files incrementally: JSON Lines or CSV records from a byte offset.

Only whole lines are read (a line still being written, without its newline, waits for the next
run), so the offset after the last record read is where the next run starts. A record that
cannot be read (bad JSON, no query text, a bad time) is skipped with a message.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

MAX_QUERY = 1_048_576


class FieldNames(BaseModel):
    """Which field of a record holds what."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field("query", description="The query text (required).")
    user: str = Field("user", description="Who ran it.")
    start_time: str = Field(
        "start_time", description="When it started: ISO 8601, or epoch seconds or milliseconds."
    )
    duration_ms: str = Field("duration_ms", description="How long it ran, in milliseconds.")
    database: str = Field("database", description="The default database it ran in.")
    schema_: str = Field("schema", alias="schema", description="The default schema it ran in.")
    query_id: str = Field("query_id", description="The system's id of the query, if any.")


@dataclass(slots=True)
class QueryRecord:
    sql: str
    user: str | None = None
    start_us: int | None = None
    duration_ms: float = 0.0
    database: str | None = None
    schema: str | None = None
    query_id: str | None = None
    count: int = 1  # runs this record stands for (pg_stat_statements: calls since last read)


@dataclass(slots=True)
class Chunk:
    """Records read from `start` up to `end` (the offset to read from next)."""

    start: int
    end: int
    records: list[QueryRecord]
    problems: list[str]


def parse_time(value: Any) -> int | None:
    """Epoch microseconds from ISO 8601 text (no zone: UTC) or epoch seconds/milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return int(dt.timestamp() * 1_000_000)
    else:
        raise ValueError(f"not a time: {value!r}")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"not a time: {value!r}")
    if number < 1e11:  # seconds
        return int(number * 1_000_000)
    if number < 1e14:  # milliseconds
        return int(number * 1_000)
    return int(number)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def to_record(row: dict[str, Any], names: FieldNames) -> QueryRecord:
    """A record from a row of fields; ValueError saying what is wrong."""
    sql = row.get(names.query)
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError(f"no query text in field {names.query!r}")
    if len(sql) > MAX_QUERY:
        raise ValueError(f"query text over {MAX_QUERY} characters")
    duration = row.get(names.duration_ms)
    try:
        ms = 0.0 if duration is None or duration == "" else float(duration)
    except (TypeError, ValueError):
        raise ValueError(f"{names.duration_ms}: not a number: {duration!r}") from None
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"{names.duration_ms}: not a duration: {duration!r}")
    try:
        start = parse_time(row.get(names.start_time))
    except (ValueError, OverflowError, OSError) as e:
        raise ValueError(f"{names.start_time}: {e}") from None
    return QueryRecord(
        sql=sql,
        user=_text(row.get(names.user)),
        start_us=start,
        duration_ms=ms,
        database=_text(row.get(names.database)),
        schema=_text(row.get(names.schema_)),
        query_id=_text(row.get(names.query_id)),
    )


def _whole_lines(f: BinaryIO) -> Iterator[bytes]:
    while True:
        line = f.readline()
        if not line or not line.endswith(b"\n"):
            return
        yield line


def read_chunks(
    path: Path,
    start: int,
    fmt: Literal["jsonl", "csv"],
    names: FieldNames,
    size: int,
) -> Iterator[Chunk]:
    """Chunks of up to `size` records from byte `start` to the last whole line."""
    with path.open("rb") as f:
        header: list[str] | None = None
        pos = start
        if fmt == "csv":
            first = f.readline()
            header = next(csv.reader([first.decode("utf-8", "replace")]), [])
            pos = max(start, len(first))
        f.seek(pos)
        consumed = pos
        chunk = Chunk(pos, pos, [], [])

        def lines() -> Iterator[str]:
            nonlocal consumed
            for line in _whole_lines(f):
                consumed += len(line)
                yield line.decode("utf-8", "replace")

        rows: Iterator[Any]
        if fmt == "csv":
            assert header is not None
            rows = (dict(zip(header, r, strict=False)) for r in csv.reader(lines()) if r)
        else:
            rows = (_json_row(line) for line in lines() if line.strip())
        for row in rows:
            try:
                if isinstance(row, Exception):
                    raise row
                chunk.records.append(to_record(row, names))
            except ValueError as e:
                chunk.problems.append(f"{path.name} before byte {consumed}: {e}")
            chunk.end = consumed
            if len(chunk.records) + len(chunk.problems) >= size:
                yield chunk
                chunk = Chunk(consumed, consumed, [], [])
        if chunk.records or chunk.problems:
            yield chunk


def _json_row(line: str) -> dict[str, Any] | Exception:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return ValueError(f"not JSON: {e}")
    if not isinstance(value, dict):
        return ValueError("a record must be a JSON object")
    return value
