"""Change detection for the SQL connectors: which relations of a schema to extract again.

A connector that can (`SQLSource.detects_changes`) has the database hash, in a few queries per
database (PostgreSQL: one; MySQL: four), everything `read_schema` would extract from each
relation: columns with their
types, defaults, comments, nullability and order, constraints with the names they refer to,
the comment, the kind, the view's SQL and, when row counts are ingested, the statistic. A
relation's unit fingerprint combines that hash with everything else its unit carries: the
service, database and schema bodies, the options that shape it, the connector's fingerprint
version (bumped when what it extracts changes) and Lodestar's version (so an upgrade reads
everything once, even if a bump was forgotten). A relation whose fingerprint is
the one its unit was committed with is not read again; the others are read, in a snapshot
taken after the hashes (MySQL has no snapshot of its catalog: a relation changed between its
hash and its read is read again by the next run, whose hash has moved), so a change racing
the run is seen by the next one.

Sample rows are data, not catalog, and no catalog hash says whether they changed: with
`sample_data` on, the sampled relations are always read and sampled, and the runner
fingerprints their bodies as before.

A connector that can also stamp its catalog (`SQLSource.stamps_catalog`) skips even the hashes
when nothing changed. The stamp is a value the database changes whenever any of its catalog rows
change (on PostgreSQL: the count and the sum of the row versions' transaction ids of each
catalog the hashes read, plus the row-count statistics). After a run that computed the hashes,
the source commits a marker unit per database whose fingerprint (`catalog_fingerprint`) combines
the stamp taken before the hashes, every schema's context and every relation's key with the
fingerprint the run meant to commit for it. The next run takes the stamp and lists the
relations (no hashing) and recomputes that fingerprint from the fingerprints actually
committed: equal means the catalog is as it was when every relation was committed as it is
now, so none is read or hashed. Anything else (a catalog change, a new or dropped relation, a
relation that failed or was deleted by hand, a changed option, filter or version) makes the
fingerprints differ and the run hashes every relation as above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

import lodestar
from lodestar.ingest.source import Options
from lodestar.model.kinds.table import TableType


@dataclass(frozen=True, slots=True)
class RelationDigest:
    """What the database says of one relation without it being read: its kind and a hash of
    everything the connector would extract from it."""

    table_type: TableType
    digest: str


# schema name -> relation name -> digest
Digests = dict[str, dict[str, RelationDigest]]


def context_fingerprint(
    connector: str, version: int, parents: list[dict[str, Any]], options: Options
) -> str:
    """What every relation unit of one schema carries besides the relation itself."""
    shaping = options.model_dump(include={"row_counts", "sample_data", "sample_rows"})
    value = [lodestar.__version__, connector, version, parents, shaping]
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def catalog_fingerprint(
    stamp: str, contexts: Mapping[str, str], relations: Mapping[str, str | None]
) -> str:
    """A database's marker fingerprint: its catalog stamp, each schema's context and each
    relation unit's key with its fingerprint."""
    value = [stamp, sorted(contexts.items()), sorted(relations.items())]
    return hashlib.sha1(orjson.dumps(value)).hexdigest()


def marker_key(db_fqn: str) -> str:
    """The key of a database's marker unit. Every other unit key of the pipeline starts with
    the service's own name part; this one's first part is that name behind a prefix, so it can
    equal none of them."""
    return f"catalog-stamp:{db_fqn}"


def relation_fingerprint(context: str, digest: str) -> str:
    return hashlib.sha1(f"{context}:{digest}".encode()).hexdigest()


@dataclass(slots=True)
class SchemaPlan:
    """For one schema: the relations not to read again (name -> fingerprint), and those to
    read (name -> fingerprint, or None when the runner fingerprints the body)."""

    unchanged: dict[str, str] = field(default_factory=dict)
    extract: dict[str, str | None] = field(default_factory=dict)


def plan_schema(
    relations: Mapping[str, RelationDigest],
    *,
    context: str,
    previous: Mapping[str, str],
    key_of: Callable[[str], str | None],
    allows: Callable[[str], bool],
    sampled: Callable[[TableType], bool],
) -> SchemaPlan:
    """Split the schema's relations (those the filters allow) by whether they changed.

    `key_of` gives a relation's unit key, or None when its name makes no valid key (it is then
    read, and fails there with the reason)."""
    plan = SchemaPlan()
    for name, rel in relations.items():
        if not allows(name):
            continue
        if sampled(rel.table_type):
            plan.extract[name] = None
            continue
        fp = relation_fingerprint(context, rel.digest)
        key = key_of(name)
        if key is not None and previous.get(key) == fp:
            plan.unchanged[name] = fp
        else:
            plan.extract[name] = fp
    return plan
