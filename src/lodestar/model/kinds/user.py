"""A person who owns, uses or curates data."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints, field_validator

from lodestar.model.common import AssetSpec, ShortText
from lodestar.model.registry import KindSpec, register

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class User(AssetSpec):
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    title: ShortText | None = None
    timezone: ShortText | None = None
    is_bot: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError("must be an e-mail address such as ada@example.com")
        return v


register(KindSpec(name="user", plural="users", model=User, description="A person or bot."))
