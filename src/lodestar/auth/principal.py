"""Who is calling, and what their role allows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lodestar.model.records import Origin

Role = Literal["admin", "steward", "editor", "viewer", "bot"]
ROLES: tuple[Role, ...] = ("admin", "steward", "editor", "viewer", "bot")


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    user_fqn: str | None = None  # the user asset an editor acts as, for ownership
    origin: Origin = field(default_factory=lambda: Origin("person"))

    @property
    def writes_everything(self) -> bool:
        return self.role in ("admin", "steward", "bot")

    @property
    def can_write(self) -> bool:
        return self.role != "viewer"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Principal(name="anonymous", role="viewer")
SYSTEM = Principal(name="system", role="admin", origin=Origin("system"))
