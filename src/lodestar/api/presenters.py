"""Assets, versions and events as the API shows them."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

from lodestar.catalog.errors import BadRequest, VersionMismatch
from lodestar.model.records import Asset, Event, VersionRecord, us_to_iso
from lodestar.model.registry import get_kind

# Formatting a time costs more than the rest of an asset's envelope, and the assets that are
# read often are read with the same two times each time.
_iso = lru_cache(maxsize=8192)(us_to_iso)


def href(kind: str, asset_id: str) -> str:
    return f"/api/v1/{get_kind(kind).plural}/{asset_id}"


def asset_json(asset: Asset, *, with_change: bool = False) -> dict[str, Any]:
    out = asset_fields(
        asset.id,
        asset.kind,
        asset.fqn,
        asset.doc,
        asset.version,
        asset.deleted,
        asset.created_at,
        asset.updated_at,
        asset.updated_by,
    )
    if with_change and asset.change is not None:
        out["change_description"] = asset.change
    return out


def asset_fields(
    asset_id: str,
    kind: str,
    fqn: str,
    doc: dict[str, Any],
    version: int,
    deleted: bool,
    created_at: int,
    updated_at: int,
    updated_by: str,
) -> dict[str, Any]:
    """An asset as the API shows it, from the stored columns (the lean read path has no
    `Asset` to hand)."""
    out: dict[str, Any] = {"id": asset_id, "kind": kind, "fqn": fqn}
    out.update(doc)
    out["version"] = version
    out["deleted"] = deleted
    out["created_at"] = _iso(created_at)
    out["updated_at"] = _iso(updated_at)
    out["updated_by"] = updated_by
    out["href"] = href(kind, asset_id)
    return out


def version_json(rec: VersionRecord) -> dict[str, Any]:
    return {
        "id": rec.asset_id,
        "kind": rec.kind,
        "fqn": rec.fqn,
        "version": rec.version,
        "deleted": rec.deleted,
        "updated_at": us_to_iso(rec.ts),
        "updated_by": rec.actor,
        "origin": rec.origin,
        "change_description": rec.change,
        "doc": rec.doc,
    }


def event_json(e: Event) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "cursor": str(e.seq),
        "ts": us_to_iso(e.ts),
        "event_type": e.event_type,
        "kind": e.asset_kind,
        "id": e.asset_id,
        "fqn": e.fqn,
        "version": e.version,
        "actor": e.actor,
        "origin": e.origin,
        "change_description": e.change,
    }


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an If-Match names. If-Match compares strongly (RFC 9110 13.1.1): a weak
    ETag never matches, so it fails the precondition rather than passing as a strong one."""
    if value is None or value.strip() == "*":
        return None
    v = value.strip()
    weak = v.startswith("W/")
    tag = v[2:] if weak else v
    if len(tag) > 1 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    elif '"' in tag or weak:
        tag = ""  # unterminated: `"3`, `3"`, `W/3`
    if not tag.isdigit() or len(tag) > 18:
        raise BadRequest(f'If-Match must be an ETag from a read, such as "3" (got {value!r})')
    if weak:
        raise VersionMismatch(
            f"If-Match {value!r} is a weak ETag, which never matches: send the ETag as read, "
            f'such as "{tag}"'
        )
    return int(tag)


def encode_cursor(fqn: str | None) -> str | None:
    return base64.urlsafe_b64encode(fqn.encode()).decode().rstrip("=") if fqn else None


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        pad = "=" * (-len(cursor) % 4)
        raw = (cursor + pad).replace("-", "+").replace("_", "/")
        text = base64.b64decode(raw, validate=True).decode()
        if any(ord(c) < 0x20 for c in text):
            raise ValueError("control character")
        return text
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the 'after' cursor is not one this server handed out") from None
