"""Custom property definitions are a steward's act, and what `required` means for assets that
existed before the definition (issue 9), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, Forbidden, InvalidInput, Key, WriteContext
from lodestar.model.records import Origin

if TYPE_CHECKING:
    from conftest import Seed

STEWARD = WriteContext.for_principal(Principal("stella", "steward"))
EDITOR = WriteContext.for_principal(Principal("bob", "editor", user_fqn="bob"))
BOT = WriteContext.for_principal(Principal("loader", "bot", origin=Origin("integration", "x")))
REQUIRED = {
    "name": "tier",
    "entity_kind": "table",
    "property_type": "enum",
    "enum_values": ["gold", "bronze"],
    "required": True,
    "owners": [{"kind": "user", "fqn": "bob"}],
}


def test_only_stewards_and_admins_define_custom_properties(catalog: Catalog, seed: Seed) -> None:
    before = catalog.last_event()
    for ctx in (EDITOR, BOT):
        with pytest.raises(Forbidden, match="admins and stewards"):
            catalog.upsert("custom_property", REQUIRED, ctx)
        (outcome,) = catalog.bulk_upsert([BulkLine("custom_property", REQUIRED)], ctx)
        assert isinstance(outcome.error, Forbidden)
    assert catalog.last_event() == before
    # the table writes of the editor are not blocked by a definition they could not make
    seed.table("orders", owners=[{"kind": "user", "fqn": "bob"}], ctx=EDITOR)

    catalog.upsert("custom_property", REQUIRED, STEWARD)
    for ctx in (EDITOR, BOT):  # nor change or delete one (the editor is listed as owner)
        with pytest.raises(Forbidden):
            catalog.patch(
                "custom_property", Key(fqn="table.tier"), {"required": False}, ctx, json_patch=False
            )
        with pytest.raises(Forbidden):
            catalog.delete("custom_property", Key(fqn="table.tier"), ctx)


def test_required_asks_new_assets_and_keeps_values_but_spares_older_ones(
    catalog: Catalog, seed: Seed
) -> None:
    seed.table("older")
    seed.table("tiered")
    catalog.upsert("custom_property", REQUIRED, STEWARD)

    # an asset from before the definition is not blocked
    assert seed.table("older", description="still writable").status == "updated"
    # a person creating one must give it
    with pytest.raises(InvalidInput) as exc:
        seed.table("newer")
    assert exc.value.errors == [{"loc": ["custom_properties", "tier"], "msg": "required"}]
    assert seed.table("newer", custom_properties={"tier": "gold"}).status == "created"
    # once given, it may change but not go
    assert seed.table("tiered", custom_properties={"tier": "bronze"}).status == "updated"
    with pytest.raises(InvalidInput, match="not removed"):
        seed.table("tiered", description="no tier")
    # an automated origin cannot know it: it creates without, and its later writes keep the
    # value a person set
    ingest = WriteContext.for_principal(
        Principal("ingestion:wh", "bot", origin=Origin("ingestion", "wh"))
    )
    assert seed.table("loaded", ctx=ingest).status == "created"
    cols = [{"name": "id", "data_type": "bigint"}]
    assert seed.table("tiered", ctx=ingest, columns=cols).status == "updated"
    doc = catalog.get("table", Key(fqn="wh.db.raw.tiered")).doc
    assert doc["custom_properties"] == {"tier": "bronze"}
