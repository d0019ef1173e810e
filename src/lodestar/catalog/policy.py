"""The write policy: which principal may change which asset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lodestar.auth.principal import Principal
from lodestar.catalog.errors import Forbidden


def owner_names(doc: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    if not doc:
        return set()
    return {(o["kind"], o["fqn"]) for o in doc.get("owners", ())}


def check_write(
    principal: Principal,
    kind: str,
    fqn: str,
    existing: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    teams: Iterable[str],
) -> None:
    """Raise Forbidden unless `principal` may turn `existing` into `new`.

    Admins, stewards and bots edit all metadata. Editors change only assets that they own,
    directly or through a team, and may create an asset only by naming themselves owner.
    """
    if principal.writes_everything:
        return
    if not principal.can_write:
        raise Forbidden(f"role {principal.role!r} may read but not change metadata")
    mine = {("team", t) for t in teams}
    if principal.user_fqn:
        mine.add(("user", principal.user_fqn))
    if existing is not None:
        if not owner_names(existing) & mine:
            raise Forbidden(
                f"{kind} {fqn!r} is not owned by {principal.name!r} or their teams; "
                "ask an owner or a steward to change it"
            )
        if new is not None and not owner_names(new) & mine:
            raise Forbidden("an editor cannot remove themselves and their teams from the owners")
    elif new is not None and not owner_names(new) & mine:
        raise Forbidden(
            f"an editor may create a {kind} only as its owner: add "
            f'{{"kind": "user", "fqn": "{principal.user_fqn}"}} to owners'
        )
