"""A container of a storage service: a bucket, a folder, or a file, nested."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lodestar.model.common import AssetSpec, FQNText, ShortText
from lodestar.model.kinds.table import Column, check_columns
from lodestar.model.registry import KindSpec, ParentField, register


class Container(AssetSpec):
    service: FQNText = Field(description="FQN of the storage service.")
    parent: FQNText | None = Field(
        None, description="FQN of the enclosing container, for nested folders and files."
    )
    container_type: Literal["bucket", "folder", "file", "dataset"] = "folder"
    path: ShortText | None = Field(None, description="Path or URL inside the storage.")
    file_format: ShortText | None = Field(None, description="parquet, csv, jsonl, ...")
    size_bytes: int | None = Field(None, ge=0)
    columns: list[Column] = Field(default_factory=list, max_length=4096)

    @model_validator(mode="after")
    def _columns(self) -> Container:
        check_columns(self.columns)
        return self


register(
    KindSpec(
        name="container",
        plural="containers",
        model=Container,
        description="A bucket, folder, file or file dataset of a storage service.",
        parents=(ParentField("service", "service"), ParentField("parent", "container")),
    )
)
