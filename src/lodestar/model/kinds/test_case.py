"""A data-quality test case: one test type with its parameters, bound to a table (and
optionally one of its columns), with a severity, a schedule and owners.

Its FQN is `<table fqn>.<name>`, so versions, owners, the write policy and every REST route
come with the catalog. `status` is written by the runner only when it changes, so each
transition (passing to failing and back) is a version and a change event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, model_validator

from lodestar.model.common import AssetSpec, FQNText, RefUse, ShortText
from lodestar.model.registry import KindSpec, ParentField, register
from lodestar.model.test_types import check_type

Severity = Literal["blocking", "warning"]
CaseStatus = Literal["passing", "failing", "error"]


class TestCase(AssetSpec):
    __test__ = False  # not a pytest class

    table: FQNText = Field(description="FQN of the table the test is on.")
    column: ShortText | None = Field(None, description="The column, for a column-level test.")
    test_type: ShortText = Field(description="A type of the test library, e.g. `not_null`.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The type's parameters (see the test library)."
    )
    severity: Severity = Field("blocking", description="A failing blocking test fails the run.")
    schedule: ShortText | None = Field(None, description="Cron expression, e.g. `0 * * * *`.")
    enabled: bool = True
    status: CaseStatus | None = Field(
        None, description="Set by the runner: the latest result, as passing, failing or error."
    )

    @model_validator(mode="after")
    def _typed(self) -> TestCase:
        try:
            spec = check_type(self.test_type)
            self.parameters = spec.validate(self.parameters)
        except ValueError as e:
            raise ValueError(str(e)) from None
        if spec.level == "column" and not self.column:
            raise ValueError(f"{self.test_type} is a column test: set column")
        if spec.level == "table" and self.column:
            raise ValueError(f"{self.test_type} is a table test: leave column out")
        if self.schedule is not None:
            from croniter import croniter

            if not croniter.is_valid(self.schedule):
                raise ValueError("schedule: not a cron expression: use five fields, '0 * * * *'")
        return self

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        if self.test_type == "reference":
            yield RefUse(("parameters", "table"), "table", self.parameters["table"], "references")


register(
    KindSpec(
        name="test_case",
        plural="test-cases",
        model=TestCase,
        description="A data-quality test on a table or one of its columns.",
        parents=(ParentField("table", "table"),),
    )
)
