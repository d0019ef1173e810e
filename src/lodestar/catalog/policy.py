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


# Kinds only admins and stewards create, change or delete: a custom property's definition
# (a required one constrains every later write of its kind).
CURATED_KINDS = frozenset({"custom_property"})
# Fields of a kind that only admins and stewards set or change: what the server executes.
# (field, value when absent)
CURATED_FIELDS: dict[str, tuple[tuple[str, Any], ...]] = {
    "ingestion_pipeline": (("recipe", None), ("schedule", None), ("enabled", True)),
}


def _curates(principal: Principal) -> bool:
    return principal.role in ("admin", "steward")


def check_curated(
    principal: Principal,
    kind: str,
    fqn: str,
    existing: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
) -> None:
    """Raise Forbidden when a principal who is not an admin or a steward touches a curated
    kind, or sets or changes a curated field (a stored recipe runs in the server)."""
    if _curates(principal):
        return
    if kind in CURATED_KINDS:
        raise Forbidden(
            f"defining a {kind} is for admins and stewards ({principal.name!r} is "
            f"{principal.role}): ask a steward"
        )
    fields = CURATED_FIELDS.get(kind)
    if not fields or new is None:
        return
    old = existing or {}
    changed = [f for f, default in fields if old.get(f, default) != new.get(f, default)]
    if changed:
        raise Forbidden(
            f"only admins and stewards set {', '.join(changed)} of a {kind} ({fqn!r}): the "
            "server runs it; ask a steward to store or change it"
        )


def check_write(
    principal: Principal,
    kind: str,
    fqn: str,
    existing: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    teams: Iterable[str],
) -> None:
    """Raise Forbidden unless `principal` may turn `existing` into `new`.

    Admins, stewards and bots edit all metadata, except that custom property definitions and
    what the server runs (a pipeline's recipe, schedule and enabled flag) are for admins and
    stewards only. Editors change only assets that they own, directly or through a team, and
    may create an asset only by naming themselves owner.
    """
    check_curated(principal, kind, fqn, existing, new)
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
