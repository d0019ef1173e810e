"""What a connector implements: a typed config and a source that yields units of work.

A unit is the smallest piece the runner commits, skips, retries or reports on its own: for a
database, one table or view with the service, database and schema assets it needs (repeating
parents is cheap: an unchanged upsert writes nothing).

Change detection is the runner's by default: it fingerprints each unit's extracted body and
skips sending those it committed with the same fingerprint. A source that can fingerprint a
unit without extracting it (a hash computed by the database over its own catalog) also
implements `skip_unchanged`, and then yields a bodiless `Unit(key, fingerprint=fp,
unchanged=True)` for each unit whose fingerprint is the one it was last committed with.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lodestar.ingest.patterns import Filters
from lodestar.ingest.retry import RetryPolicy
from lodestar.usage.queries import QueryFact

T = TypeVar("T")

# (asset kind, asset FQN, observation kind, value), and optionally an idempotency key: one
# fact (a dbt test execution) given the same key however often its unit is sent is stored once.
ObservationItem = tuple[str, str, str, dict[str, Any]] | tuple[str, str, str, dict[str, Any], str]


@dataclass(frozen=True, slots=True)
class Lineage:
    """A lineage edge a unit reports, upstream -> downstream, with the edge contract's props:
    `columns` as (upstream column, downstream column) pairs of plain column names, and any of
    `query`, `sql`, `pipeline`, `run`, `transformation` in `props`. `via` names the process
    that carried the flow (`query:<fingerprint>`, `pipeline:<fqn>`; empty for a definition
    such as a view's SQL)."""

    from_kind: str
    from_fqn: str
    to_kind: str
    to_fqn: str
    via: str = ""
    columns: tuple[tuple[str, str], ...] = ()
    props: dict[str, Any] | None = None

    @property
    def ident(self) -> tuple[str, str, str, str, str]:
        """What names the edge for staleness: its ends and `via` (props may change)."""
        return (self.from_kind, self.from_fqn, self.to_kind, self.to_fqn, self.via)

    def edge_props(self) -> dict[str, Any] | None:
        out: dict[str, Any] = dict(self.props or {})
        if self.columns:
            out["columns"] = [list(pair) for pair in self.columns]
        return out or None


# (from kind, from FQN, to kind, to FQN): data flows from -> to, no props; or a `Lineage`.
LineageItem = tuple[str, str, str, str] | Lineage


def as_lineage(item: LineageItem) -> Lineage:
    return item if isinstance(item, Lineage) else Lineage(*item)


class SourceConfig(BaseModel):
    """Base for connector configs: a typo in a recipe fails loudly."""

    model_config = ConfigDict(extra="forbid")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sample_data: bool = Field(False, description="Read a few rows of each table.")
    sample_rows: int = Field(20, ge=1, le=1000, description="Rows of sample data per table.")
    row_counts: bool = Field(True, description="Row counts where the source keeps statistics.")
    mark_deleted: bool = Field(
        True, description="After a complete run, soft-delete assets the source no longer has."
    )
    max_deletion_ratio: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Delete nothing (and warn) when more than this share would be deleted.",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    batch_size: int = Field(200, ge=1, le=5000, description="Units per commit.")


@dataclass(slots=True)
class Unit:
    """One committed piece of work: assets in dependency order, or the error extracting it."""

    key: str
    assets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None
    # test results, row counts... (see ObservationItem)
    observations: list[ObservationItem] = field(default_factory=list)
    # Data flows from -> to (dbt model dependencies, a view's tables...): see `LineageItem`.
    # Each completed run replaces the pipeline's edges: one no unit reports any more goes.
    lineage: list[LineageItem] = field(default_factory=list)
    # Parsed queries of a query log (usage/queries.py), stored with the unit's commit.
    queries: list[QueryFact] = field(default_factory=list)
    # Set by a source that fingerprints units itself (see `Source.skip_unchanged`); None: the
    # runner fingerprints the extracted body.
    fingerprint: str | None = None
    # Not extracted: the source found `fingerprint` equal to the one the unit was committed
    # with. Such a unit has no assets; the runner keeps what it committed before.
    unchanged: bool = False
    # A marker: no assets, only a fingerprint the source keeps for its own change detection
    # (a database's catalog stamp). Committed like any unit, counted in no report figure.
    marker: bool = False


@dataclass(slots=True)
class SourceContext:
    """What the runner hands a source: filters, options, retries, and a place for warnings."""

    pipeline: str
    filters: Filters
    options: Options
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if len(self.warnings) < 200:
            self.warnings.append(message)

    def retry(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures under the recipe's retry policy."""
        return self.options.retry.run(what, fn)


class Source(abc.ABC):
    """A connector. Subclasses set `config_model` and implement the three methods."""

    config_model: ClassVar[type[SourceConfig]]
    description: ClassVar[str] = ""
    # An append-only source (a query log) yields only what is new since its last run: a unit
    # of an earlier run is not seen again, and neither it nor its edges are stale for that.
    append_only: ClassVar[bool] = False
    # The rank of this connector's descriptions when another automated writer describes
    # the same asset: a higher rank's is kept (dbt's documentation over database comments).
    documentation_rank: ClassVar[int] = 0

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        self.config = config
        self.ctx = ctx

    @abc.abstractmethod
    def check(self) -> None:
        """Connect once; raise PermanentError (bad credentials...) or TransientError."""

    @abc.abstractmethod
    def units(self) -> Iterator[Unit]:
        """Units in a stable order (resume skips the ones already committed)."""

    @abc.abstractmethod
    def scope(self) -> list[tuple[str, str]]:
        """(kind, FQN prefix) of the assets this source is the authority for, after filters:
        those not seen in a complete run are soft-deleted."""

    def in_scope(self, kind: str, fqn: str) -> bool:
        """Whether an existing asset under `scope()` would pass this recipe's filters."""
        return True

    def skip_unchanged(self, previous: Mapping[str, str]) -> None:  # noqa: B027 - optional
        """Optional change detection, called before `units()`. `previous` maps unit keys to the
        fingerprints they were committed with, for the units whose assets are all still in the
        catalog. A source that can fingerprint a unit cheaply, from everything it would
        extract, without extracting it, then yields `Unit(key, fingerprint=fp, unchanged=True)`
        for a unit whose fingerprint equals `previous[key]`, and sets `Unit.fingerprint` on
        the units it does extract. The fingerprint must be taken no later than the extraction
        (a change in between is then seen by the next run), and must change whenever anything
        the unit would carry changes: when that cannot be promised for a unit (sample rows are
        data, not catalog), extract it and leave its fingerprint to the runner. The default
        ignores `previous`: every unit is extracted."""

    def lineage_expires_before(self) -> int | None:
        """For an append-only source: epoch µs before which an edge it last reported is
        retracted after a complete run (None: its edges stay until a person removes them)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
