"""A custom property definition: a typed extra field for one asset kind."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from lodestar.model.common import AssetSpec, ShortText
from lodestar.model.registry import KindSpec, register

PropertyType = Literal[
    "string", "markdown", "integer", "number", "boolean", "date", "datetime", "enum", "url"
]


class CustomProperty(AssetSpec):
    entity_kind: ShortText = Field(description="The asset kind it applies to, e.g. `table`.")
    property_type: PropertyType
    enum_values: list[ShortText] = Field(default_factory=list, max_length=256)
    required: bool = False

    @model_validator(mode="after")
    def _enum(self) -> CustomProperty:
        from lodestar.model.registry import find_kind

        target = find_kind(self.entity_kind)
        if target is None or target.name != self.entity_kind:
            raise ValueError(f"entity_kind {self.entity_kind!r} is not an asset kind")
        if self.property_type == "enum" and not self.enum_values:
            raise ValueError("an enum property needs enum_values")
        return self

    def check_value(self, value: Any) -> str | None:
        """None when `value` fits this property, else what is wrong with it."""
        t = self.property_type
        ok: bool
        if t in ("string", "markdown"):
            ok = isinstance(value, str)
        elif t == "url":
            ok = isinstance(value, str) and "://" in value
        elif t == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif t == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif t == "boolean":
            ok = isinstance(value, bool)
        elif t == "enum":
            ok = value in self.enum_values
            if not ok:
                return f"must be one of {self.enum_values}"
        elif t in ("date", "datetime"):
            parse = date.fromisoformat if t == "date" else datetime.fromisoformat
            try:
                ok = isinstance(value, str) and bool(parse(value))
            except ValueError:
                ok = False
        else:  # pragma: no cover - Literal exhausts the cases
            ok = False
        article = "an" if t[0] in "aeiou" else "a"
        return None if ok else f"must be {article} {t}"


def _prefix(spec: AssetSpec) -> list[str]:
    assert isinstance(spec, CustomProperty)
    return [spec.entity_kind]


register(
    KindSpec(
        name="custom_property",
        plural="custom-properties",
        model=CustomProperty,
        description="A typed custom property for one asset kind.",
        fqn_prefix=_prefix,
    )
)
