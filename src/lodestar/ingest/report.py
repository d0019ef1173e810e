"""The run report: counts, bounded lists of warnings and failures, and the final status."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_LISTED = 100


@dataclass
class RunReport:
    pipeline: str
    run_id: str = ""
    status: str = "running"  # running | success | partial | failed
    dry_run: bool = False
    resumed: bool = False
    started: float = field(default_factory=time.time)
    ended: float | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    units: int = 0
    units_skipped: int = 0  # unchanged since the last run: not sent at all
    units_not_extracted: int = 0  # of those, the source saw unchanged without extracting them
    units_resumed: int = 0  # committed by the interrupted run this one resumed
    units_failed: int = 0
    observations: int = 0
    lineage_edges: int = 0
    lineage_removed: int = 0  # edges this pipeline had reported and no longer does
    queries: int = 0  # parsed queries of a query log, stored for usage
    would_delete: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(message)

    def fail(self, message: str) -> None:
        if len(self.failures) < MAX_LISTED:
            self.failures.append(message)

    def count(self, status: str) -> None:
        if status == "created":
            self.created += 1
        elif status == "updated":
            self.updated += 1
        elif status == "unchanged":
            self.unchanged += 1

    @property
    def duration(self) -> float:
        return (self.ended or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["duration"] = round(self.duration, 3)
        return out
