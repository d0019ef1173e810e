"""The library of data-quality test types: what each one checks, its typed parameters, and
the column types it applies to. Pure types: the SQL each compiles to is `quality/compile.py`.

A test case (`model/kinds/test_case.py`) names a type and gives its parameters; they are
validated here, so an unknown type or a parameter of the wrong type is refused on every write
path (API, CLI, checks file) with the field named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

Level = Literal["table", "column"]
# Column type families a column test applies to; `any` is every type.
Family = Literal["numeric", "text", "temporal", "boolean", "other"]
ANY: tuple[Family, ...] = ("numeric", "text", "temporal", "boolean", "other")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def duration_s(text: str) -> float:
    """Seconds in `30m`, `6h`, `1d`, `2w`; ValueError saying how to write one."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration: write a number and s, m, h, d or w (1d)")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def family(data_type: str) -> Family:
    """The family of a column type as its source spells it (`varchar(255)`, `BIGINT`...)."""
    t = data_type.lower()
    if t.startswith(("bool",)):
        return "boolean"
    if any(w in t for w in ("timestamp", "date", "time", "interval")):
        return "temporal"
    if any(
        w in t
        for w in (
            "int",
            "numeric",
            "decimal",
            "real",
            "double",
            "float",
            "number",
            "money",
            "serial",
        )
    ):
        return "numeric"
    if any(w in t for w in ("char", "text", "string", "clob", "uuid", "enum", "json", "name")):
        return "text"
    return "other"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


Number = int | float


class _MinMax(Params):
    min: Number | None = Field(None, description="Smallest value that passes (inclusive).")
    max: Number | None = Field(None, description="Largest value that passes (inclusive).")

    @model_validator(mode="after")
    def _some(self) -> _MinMax:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class _Count(Params):
    min: Annotated[int, Field(ge=0)] | None = Field(None, description="Fewest that pass.")
    max: Annotated[int, Field(ge=0)] | None = Field(None, description="Most that pass.")

    @model_validator(mode="after")
    def _some(self) -> _Count:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class RowCountBetween(_Count):
    pass


class ColumnCountBetween(_Count):
    pass


class DistinctCountBetween(_Count):
    pass


class LengthBetween(_Count):
    pass


class Between(_MinMax):
    pass


class MeanBetween(_MinMax):
    pass


class Freshness(Params):
    column: str | None = Field(
        None,
        description="Timestamp column whose newest value is the data's age; without one, the "
        "age of the table's last successful load (its newest `pipeline_run` or `load` "
        "observation).",
    )
    max_age: Annotated[str, StringConstraints(max_length=32)] = Field(
        description="Oldest age that passes: `30m`, `6h`, `1d`."
    )

    @model_validator(mode="after")
    def _age(self) -> Freshness:
        duration_s(self.max_age)
        return self


class SchemaUnchanged(Params):
    since_version: Annotated[int, Field(ge=1)] = Field(
        description="The table's catalog version whose columns (names and types) must still hold."
    )


class CustomSQL(Params):
    sql: Annotated[str, StringConstraints(min_length=1, max_length=65_536)] = Field(
        description="A SELECT in the source's dialect; every row it returns is a failure."
    )


class NotNull(Params):
    pass


class Unique(Params):
    pass


class NullRatioAtMost(Params):
    max: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Largest share of NULLs that passes (0 to 1)."
    )

    @model_validator(mode="before")
    @classmethod
    def _int(cls, v: Any) -> Any:
        if (
            isinstance(v, dict)
            and isinstance(v.get("max"), int)
            and not isinstance(v.get("max"), bool)
        ):
            return {**v, "max": float(v["max"])}
        return v


Scalar = str | int | float | bool


class AcceptedValues(Params):
    values: list[Scalar] = Field(min_length=1, max_length=1000, description="Allowed values.")


class RegexMatch(Params):
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="A regular expression each non-NULL value must contain a match of (anchor "
        "with ^...$ for the whole value)."
    )

    @model_validator(mode="after")
    def _compiles(self) -> RegexMatch:
        try:
            re.compile(self.pattern)
        except re.error as e:
            raise ValueError(f"pattern is not a regular expression: {e}") from None
        return self


class Reference(Params):
    table: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="FQN of the referenced table (on the same service)."
    )
    column: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="The referenced column."
    )


class Anomaly(Params):
    min_history: Annotated[int, Field(ge=3, le=1000)] = Field(
        7, description="Results needed before it judges; until then it passes, learning."
    )
    sensitivity: Annotated[float, Field(gt=0, le=100)] = Field(
        3.0, description="How many robust deviations (scaled MAD) from the median pass."
    )
    weekly: bool = Field(
        True,
        description="Compare with the same weekday's results when there are min_history of "
        "them (weekly seasonality), else with all of the last 12 weeks.",
    )

    @model_validator(mode="before")
    @classmethod
    def _int(cls, v: Any) -> Any:
        s = v.get("sensitivity") if isinstance(v, dict) else None
        if isinstance(s, int) and not isinstance(s, bool):
            return {**v, "sensitivity": float(s)}
        return v


@dataclass(frozen=True, slots=True)
class CheckType:
    name: str
    level: Level
    params: type[Params]
    description: str
    applies_to: tuple[Family, ...] = ANY

    def validate(self, parameters: Any) -> dict[str, Any]:
        """The parameters as stored (defaults filled, None dropped); ValueError naming the
        parameter otherwise."""
        try:
            model = self.params.model_validate(parameters if parameters is not None else {})
        except ValidationError as e:
            err = e.errors(include_input=False)[0]
            loc, msg = list(err["loc"]), err["msg"]
            if len(loc) > 1 and loc[-1] in _MEMBER:  # one member of a union: say what fits
                msg = f"must be {_MEMBER[str(loc[-1])]}"
                loc = loc[:-1]
            where = ".".join(str(p) for p in loc)
            raise ValueError(f"{self.name}: {where + ': ' if where else ''}{msg}") from None
        return model.model_dump(exclude_none=True)


_NUMERIC: tuple[Family, ...] = ("numeric",)
_MEMBER = {"int": "a number", "float": "a number", "str": "text", "bool": "true or false"}

TEST_TYPES: dict[str, CheckType] = {
    t.name: t
    for t in (
        CheckType(
            "row_count_between",
            "table",
            RowCountBetween,
            "The table's row count is within [min, max].",
        ),
        CheckType(
            "freshness",
            "table",
            Freshness,
            "The newest value of a timestamp column (or "
            "the last successful load) is at most max_age old.",
        ),
        CheckType(
            "column_count_between",
            "table",
            ColumnCountBetween,
            "The table has between min and max columns in the source.",
        ),
        CheckType(
            "schema_unchanged",
            "table",
            SchemaUnchanged,
            "The table's columns (names and types) are those of catalog version since_version.",
        ),
        CheckType(
            "custom_sql",
            "table",
            CustomSQL,
            "A query returns no rows; each row it returns is a failure.",
        ),
        CheckType("not_null", "column", NotNull, "No value is NULL."),
        CheckType(
            "null_ratio_at_most", "column", NullRatioAtMost, "The share of NULLs is at most max."
        ),
        CheckType("unique", "column", Unique, "No non-NULL value appears twice."),
        CheckType(
            "accepted_values",
            "column",
            AcceptedValues,
            "Every non-NULL value is one of values.",
            ("numeric", "text", "boolean"),
        ),
        CheckType(
            "between", "column", Between, "Every non-NULL value is within [min, max].", _NUMERIC
        ),
        CheckType(
            "regex_match", "column", RegexMatch, "Every non-NULL value matches pattern.", ("text",)
        ),
        CheckType(
            "length_between",
            "column",
            LengthBetween,
            "Every non-NULL value's length is within [min, max].",
            ("text",),
        ),
        CheckType(
            "distinct_count_between",
            "column",
            DistinctCountBetween,
            "The number of distinct non-NULL values is within [min, max].",
        ),
        CheckType(
            "mean_between",
            "column",
            MeanBetween,
            "The mean of the values is within [min, max].",
            _NUMERIC,
        ),
        CheckType(
            "volume_anomaly",
            "table",
            Anomaly,
            "The row count is within the range its own history expects (median and scaled "
            "MAD, by weekday).",
        ),
        CheckType(
            "null_ratio_anomaly",
            "column",
            Anomaly,
            "The share of NULLs is within the range its own history expects.",
        ),
        CheckType(
            "reference",
            "column",
            Reference,
            "Every non-NULL value exists in another "
            "table's column (a foreign key the database does not enforce).",
        ),
    )
}


def check_type(name: str) -> CheckType:
    """The type by name; ValueError listing the known ones."""
    found = TEST_TYPES.get(name)
    if found is None:
        raise ValueError(f"unknown test type {name!r}; known: {', '.join(sorted(TEST_TYPES))}")
    return found


__all__ = ["ANY", "TEST_TYPES", "CheckType", "check_type", "duration_s", "family"]
