"""A pipeline (DAG, job, flow) of an orchestration service, with its tasks."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from lodestar.model.common import AssetSpec, FQNText, Markdown, ShortText, Strict
from lodestar.model.registry import KindSpec, ParentField, register

Url = Annotated[str, StringConstraints(max_length=2048)]


class Task(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    display_name: ShortText | None = None
    description: Markdown | None = None
    task_type: ShortText | None = None
    downstream: list[str] = Field(default_factory=list, description="Names of downstream tasks.")
    source_url: Url | None = None


class Pipeline(AssetSpec):
    service: FQNText = Field(description="FQN of the pipeline service (orchestrator).")
    tasks: list[Task] = Field(default_factory=list, max_length=4096)
    schedule: ShortText | None = Field(None, description="Cron expression, when scheduled.")
    source_url: Url | None = None

    @model_validator(mode="after")
    def _task_graph(self) -> Pipeline:
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError("task names must be unique within a pipeline")
        known = set(names)
        for t in self.tasks:
            unknown = [d for d in t.downstream if d not in known]
            if unknown:
                raise ValueError(f"task {t.name!r} names unknown downstream tasks {unknown}")
        return self


register(
    KindSpec(
        name="pipeline",
        plural="pipelines",
        model=Pipeline,
        description="A pipeline of an orchestration service.",
        parents=(ParentField("service", "service"),),
    )
)
