"""A table, view, materialized view or external table, with its columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, NotRequired, Required

import orjson
from pydantic import ConfigDict, Field, StringConstraints, model_validator
from typing_extensions import TypedDict

from lodestar.model import fqn as fqn_mod
from lodestar.model.common import AssetSpec, FQNText, Markdown, RefUse, Strict
from lodestar.model.registry import KindSpec, ParentField, register

SAMPLE_MAX_ROWS = 1000
SAMPLE_MAX_BYTES = 256 * 1024
MAX_COLUMNS = 4096

TableType = Literal["table", "view", "materialized_view", "external"]
ColumnConstraint = Literal["primary_key", "unique", "not_null"]


class Column(TypedDict):
    """A column, validated as a plain dict: a table of 30 columns validates and serialises
    in less than half the time of 30 model instances (bulk ingests validate millions)."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]

    name: Required[
        Annotated[
            str,
            StringConstraints(
                min_length=1, max_length=fqn_mod.MAX_PART_LENGTH, pattern=fqn_mod.NAME_PATTERN
            ),
        ]
    ]
    data_type: Required[
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=512),
            Field(description="The type as the source spells it: `varchar(255)`, ..."),
        ]
    ]
    ordinal: NotRequired[
        Annotated[int, Field(ge=1, description="1-based position; defaults to order.")] | None
    ]
    nullable: NotRequired[bool]
    description: NotRequired[Markdown | None]
    default: NotRequired[Annotated[str, StringConstraints(max_length=4096)] | None]
    constraint: NotRequired[ColumnConstraint | None]
    tags: NotRequired[Annotated[list[FQNText], Field(max_length=64)]]
    glossary_terms: NotRequired[Annotated[list[FQNText], Field(max_length=64)]]


def check_columns(columns: list[Column]) -> set[str]:
    """Unique names; unset (None) values dropped; defaults filled in (ordinal from the
    position, empty tag lists) and tag FQNs made canonical, in one pass; the set of column
    names. This leaves the columns document-ready (AssetSpec.document). It runs for every
    column of every table a bulk write validates, so the common case stays cheap.

    `nullable` is left out when the body leaves it out: a writer that does not know it (dbt)
    must not send `true` over what another origin read from the database. The write path
    fills it in after merging with the stored version (`fill_column_defaults`)."""
    seen: set[str] = set()
    for i, col in enumerate(columns, 1):
        name = col["name"]
        if name in seen:
            raise ValueError(f"column {name!r} appears twice")
        seen.add(name)
        if None in col.values():
            for key in [k for k, v in col.items() if v is None]:
                del col[key]  # type: ignore[misc]  # the stored document leaves out what is unset
        if "ordinal" not in col:
            col["ordinal"] = i
        tags = col.get("tags")
        col["tags"] = _normalized(tags, name, "tags") if tags else []
        terms = col.get("glossary_terms")
        col["glossary_terms"] = _normalized(terms, name, "glossary_terms") if terms else []
    return seen


def fill_column_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with `nullable: true` on every column no writer said anything about (the
    default of a column whose nullability nobody knows); a column keeps any value it has."""
    columns = doc.get("columns")
    if not columns or all("nullable" in c for c in columns):
        return doc
    filled = [c if "nullable" in c else {**c, "nullable": True} for c in columns]
    return {**doc, "columns": filled}


def _normalized(values: list[str], column: str, field: str) -> list[str]:
    try:
        if len(values) == 1:
            return [fqn_mod.normalize(values[0])]
        return list(dict.fromkeys(fqn_mod.normalize(x) for x in values))
    except fqn_mod.FQNError as e:
        raise ValueError(f"column {column!r} {field}: {e}") from None


class TableConstraint(Strict):
    type: Literal["primary_key", "unique", "foreign_key"]
    columns: list[str] = Field(min_length=1, max_length=256)
    referred_table: FQNText | None = Field(None, description="For foreign keys: the table FQN.")
    referred_columns: list[str] = Field(default_factory=list, max_length=256)


class SampleData(Strict):
    columns: list[str] = Field(max_length=MAX_COLUMNS)
    rows: list[list[Any]] = Field(max_length=SAMPLE_MAX_ROWS)

    @model_validator(mode="after")
    def _bounded(self) -> SampleData:
        width = len(self.columns)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"row {i} has {len(row)} values for {width} columns")
        size = len(orjson.dumps(self.rows))
        if size > SAMPLE_MAX_BYTES:
            raise ValueError(
                f"sample data is {size} bytes; keep it under {SAMPLE_MAX_BYTES} "
                "(fewer rows, or truncate long values)"
            )
        return self


class TablePartition(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=fqn_mod.MAX_PART_LENGTH)]
    bound: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        None, description="As the source spells it: `FOR VALUES FROM ('2026-01-01') TO (...)`."
    )


class Partitioning(Strict):
    """How a table's rows are split over partitions (or inheriting child tables), which the
    catalog folds into the table: they are not catalogued as tables of their own."""

    kind: Literal["declarative", "inheritance"] = "declarative"
    key: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        None, description="The partition key as the source spells it: `RANGE (placed_at)`."
    )
    partitions: list[TablePartition] = Field(default_factory=list, max_length=4096)
    partition_count: int = Field(0, ge=0, description="All partitions, listed or not.")


class Table(AssetSpec):
    schema_: FQNText = Field(
        alias="schema", description="FQN of the schema holding it: `service.database.schema`."
    )
    table_type: TableType = "table"
    columns: list[Column] = Field(default_factory=list, max_length=MAX_COLUMNS)
    constraints: list[TableConstraint] = Field(default_factory=list, max_length=256)
    view_sql: Annotated[str, StringConstraints(max_length=1_048_576)] | None = Field(
        None, description="The SQL defining a view or materialized view."
    )
    sample_data: SampleData | None = None
    partitioning: Partitioning | None = Field(
        None, description="Partitions folded into this table: its key and their bounds."
    )

    model_config = {"populate_by_name": True}
    _document_ready = frozenset({"columns"})

    @model_validator(mode="after")
    def _columns(self) -> Table:
        seen = check_columns(self.columns)
        for c in self.constraints:
            missing = [name for name in c.columns if name not in seen]
            if missing:
                raise ValueError(f"{c.type} constraint names unknown columns {missing}")
        return self

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        for i, col in enumerate(self.columns):
            tags, terms = col.get("tags"), col.get("glossary_terms")
            if tags:
                for j, t in enumerate(tags):
                    yield RefUse(("columns", i, "tags", j), "tag", t, "tagged_with", col["name"])
            if terms:
                for j, g in enumerate(terms):
                    yield RefUse(
                        ("columns", i, "glossary_terms", j),
                        "glossary_term",
                        g,
                        "has_term",
                        col["name"],
                    )


register(
    KindSpec(
        name="table",
        plural="tables",
        model=Table,
        description="A table, view, materialized view or external table.",
        parents=(ParentField("schema", "schema"),),
    )
)
