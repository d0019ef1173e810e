"""Stored records as the domain sees them: assets, versions, events, changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

OriginType = Literal["person", "ingestion", "integration", "system"]


def now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def us_to_iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


# A calendar date, optionally with a time and an offset: ISO 8601 as people write it. Week and
# ordinal dates (2026-W01, 2026-032) and a bare year are refused rather than guessed at.
_ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
_EPOCH_MS = re.compile(r"\d{10,15}", re.ASCII)  # 1970-01-12 to the year 9999


def iso_to_us(text: str) -> int:
    """Parse an ISO 8601 time (naive means UTC) or epoch milliseconds into epoch microseconds.
    Only ASCII digits count, and epoch milliseconds have 10 to 15 of them: a bare `2026` is
    not taken for 2 seconds after 1970."""
    text = text.strip()
    if _EPOCH_MS.fullmatch(text):
        return int(text) * 1000
    if not _ISO_TIME.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z) "
            "or epoch milliseconds"
        )
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)


@dataclass(frozen=True, slots=True)
class Origin:
    """Who or what made a change: a person, an ingestion pipeline, an integration."""

    type: OriginType
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.type}:{self.name}" if self.name else self.type

    @classmethod
    def parse(cls, text: str) -> Origin:
        kind, _, name = text.partition(":")
        if kind not in ("person", "ingestion", "integration", "system"):
            raise ValueError(
                f"unknown origin {kind!r}: use person, ingestion:<pipeline> or integration:<name>"
            )
        return cls(kind, name or None)  # type: ignore[arg-type]


@dataclass(slots=True)
class Asset:
    id: str
    kind: str
    fqn: str
    name: str
    parent_id: str | None
    version: int
    doc: dict[str, Any]
    provenance: dict[str, Any]
    deleted: bool
    created_at: int
    updated_at: int
    updated_by: str
    change: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class VersionRecord:
    asset_id: str
    version: int
    kind: str
    fqn: str
    doc: dict[str, Any]
    change: dict[str, Any] | None
    deleted: bool
    actor: str
    origin: str
    ts: int


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: int
    event_type: str
    asset_kind: str
    asset_id: str
    fqn: str
    version: int
    actor: str
    origin: str
    change: dict[str, Any] | None
