"""The search document of an asset: its texts for the full-text index, its filter values and
its boost signals, all derived from the stored asset alone (so a rebuild gives the same)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Asset
from lodestar.search import text

# Kinds whose FQN starts with their service's name, and how many of its parts name the
# service, the database and the schema they live in.
_SCOPE_DEPTH = {"table": 3, "schema": 2, "database": 1}
_SERVICE_KINDS = frozenset(
    {
        "table",
        "schema",
        "database",
        "dashboard",
        "pipeline",
        "topic",
        "ml_model",
        "container",
        "query",
    }
)
MAX_TEXT = 16_384  # characters of words per field: a 64 KB description is indexed in part
POPULARITY_PROPERTY = "popularity"
DEPRECATED_WORDS = ("deprecated", "obsolete")
CERTIFIED_CLASSES = ("certification", "certified")
MAX_VOCAB_WORD = 40


def doc_id(asset_id: str) -> int:
    """63 bits of a hash of the asset id: the document's key and, on SQLite, its FTS5 rowid."""
    digest = hashlib.blake2b(asset_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(slots=True)
class SearchDoc:
    doc_id: int
    asset_id: str
    kind: str
    name_lc: str
    name_key: str
    fqn_lc: str
    service: str | None
    database: str | None
    schema: str | None
    domain: str | None
    deleted: bool
    updated_at: int
    popularity: float
    documented: bool
    owned: bool
    tier: float
    certified: bool
    deprecated: bool
    pop_log: float
    # Full-text fields: words already split and lower-cased (text.words).
    name_text: str = ""
    fqn_text: str = ""
    description_text: str = ""
    columns_text: str = ""
    meta_text: str = ""
    facets: list[tuple[str, str]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "asset_id": self.asset_id,
            "kind": self.kind,
            "name_lc": self.name_lc,
            "name_key": self.name_key,
            "fqn_lc": self.fqn_lc,
            "service": self.service,
            "database": self.database,
            "schema": self.schema,
            "domain": self.domain,
            "deleted": self.deleted,
            "updated_at": self.updated_at,
            "popularity": self.popularity,
            "documented": self.documented,
            "owned": self.owned,
            "tier": self.tier,
            "certified": self.certified,
            "deprecated": self.deprecated,
            "pop_log": self.pop_log,
        }

    def texts(self) -> dict[str, str]:
        return {
            "name": self.name_text,
            "fqn": self.fqn_text,
            "description": self.description_text,
            "columns": self.columns_text,
            "meta": self.meta_text,
        }

    def vocabulary(self) -> set[str]:
        return vocabulary([self])


def vocabulary(docs: Sequence[SearchDoc]) -> set[str]:
    """The words a misspelt query word may be corrected to (and the last word completed
    to): every alphabetic word of 4 to 40 letters of the documents' fields."""
    seen: set[str] = set()
    for d in docs:
        for t in (d.name_text, d.fqn_text, d.columns_text, d.meta_text, d.description_text):
            seen.update(t.split())
    return {w for w in seen if 3 < len(w) <= MAX_VOCAB_WORD and w.isalpha()}


def _scope(kind: str, fqn: str) -> tuple[str | None, str | None, str | None]:
    if kind == "service":
        return fqn, None, None
    if kind not in _SERVICE_KINDS:
        return None, None, None
    if '"' in fqn:
        try:
            parts = fqn_mod.split(fqn)
        except fqn_mod.FQNError:
            return None, None, None
    else:
        parts = fqn.split(".")
    depth = _SCOPE_DEPTH.get(kind, 0)
    service = parts[0] if len(parts) > 1 else None
    database = fqn_mod.join(parts[:2]) if depth >= 2 and len(parts) > 2 else None
    schema = fqn_mod.join(parts[:3]) if depth >= 3 and len(parts) > 3 else None
    return service, database, schema


def _tier(tags: list[str]) -> float:
    """`Tier.Tier1` is 1.0, `Tier.Tier2` 0.75 ... `Tier.Tier5` 0; no tier tag is 0."""
    best = 0.0
    for t in tags:
        if t[:5].lower() == "tier.":
            digits = "".join(ch for ch in t[5:] if ch.isdigit())
            if digits and 1 <= int(digits) <= 5:
                best = max(best, (5 - int(digits)) / 4)
    return best


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, float(value)) if math.isfinite(value) else 0.0


def _property_text(props: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for k, v in props.items():
        out.append(k)
        if isinstance(v, str):
            out.append(v[:512])
        elif isinstance(v, list):
            out.extend(x[:512] for x in v if isinstance(x, str))
    return out


def _clip(s: str) -> str:
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT]


def build(asset: Asset) -> SearchDoc:
    doc = asset.doc
    name = asset.name
    display = doc.get("display_name") or ""
    description = doc.get("description") or ""
    owners = [o["fqn"] for o in doc.get("owners", ()) if isinstance(o, dict) and "fqn" in o]
    tags: list[str] = list(doc.get("tags", ()))
    terms: list[str] = list(doc.get("glossary_terms", ()))
    columns = doc.get("columns") or []
    column_words: list[str] = []
    for col in columns:
        if not isinstance(col, dict):
            continue
        column_words.append(col.get("name", ""))
        if col.get("description"):
            column_words.append(col["description"][:2048])
        for t in col.get("tags", ()):
            if t not in tags:
                tags.append(t)
        for g in col.get("glossary_terms", ()):
            if g not in terms:
                terms.append(g)
    domain = doc.get("domain")
    props = doc.get("custom_properties") or {}
    service, database, schema = _scope(asset.kind, asset.fqn)
    tag_words = [w for t in tags for w in (t, t.rpartition(".")[2])]
    deprecated = (
        any(t.rpartition(".")[2].lower() in DEPRECATED_WORDS for t in tags)
        or (description[:40].lower().lstrip("*_ ").startswith(DEPRECATED_WORDS))
        or props.get("deprecated") is True
    )
    certified = any(t.partition(".")[0].lower() in CERTIFIED_CLASSES for t in tags)
    popularity = _number(props.get(POPULARITY_PROPERTY))
    facets = [("owner", o) for o in dict.fromkeys(owners)]
    facets += [("tag", t) for t in tags]
    facets += [("glossary_term", g) for g in terms]
    return SearchDoc(
        doc_id=doc_id(asset.id),
        asset_id=asset.id,
        kind=asset.kind,
        name_lc=name.lower()[:256],
        name_key=text.key(name)[:512],
        fqn_lc=asset.fqn.lower()[:2048],
        service=service,
        database=database,
        schema=schema,
        domain=domain,
        deleted=asset.deleted,
        updated_at=asset.updated_at,
        popularity=popularity,
        documented=bool(description.strip()),
        owned=bool(owners),
        tier=_tier(tags),
        certified=certified,
        deprecated=deprecated,
        pop_log=math.log1p(popularity),
        name_text=text.joined([name, display]),
        fqn_text=text.joined([asset.fqn]),
        description_text=_clip(text.joined([description[:MAX_TEXT]])),
        columns_text=_clip(text.joined(column_words)),
        meta_text=_clip(
            text.joined(
                [asset.kind, *tag_words, *terms, *owners, domain or "", *_property_text(props)]
            )
        ),
        facets=facets,
    )
