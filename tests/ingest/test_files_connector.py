"""The files connector over real Parquet, CSV and JSON Lines files, written by each test into
tmp_path (or fsspec's memory filesystem), pushed through the real catalog on SQLite."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, Key, WriteContext
from lodestar.catalog.observations import Observation, ObservationLog
from lodestar.ingest import registry
from lodestar.ingest.connectors.files import FilesConfig, FilesSource
from lodestar.ingest.errors import PermanentError
from lodestar.ingest.patterns import Filter, Filters
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.sinks import CatalogSink
from lodestar.ingest.source import Options, SourceContext, Unit
from lodestar.ingest.state import StateStore
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Origin
from lodestar.store import open_store

ORDERS = pa.table(
    {
        "order_id": pa.array(range(1000), pa.int64()),
        "amount": pa.array([i / 4 for i in range(1000)], pa.float64()),
        "placed_at": pa.array([i * 1_000_000 for i in range(1000)], pa.timestamp("us")),
        "tags": pa.array([["a", "b"]] * 1000, pa.list_(pa.string())),
    },
    schema=pa.schema(
        [
            pa.field("order_id", pa.int64(), nullable=False),
            pa.field("amount", pa.float64()),
            pa.field("placed_at", pa.timestamp("us")),
            pa.field("tags", pa.list_(pa.string())),
        ]
    ),
)


def _events(n: int, offset: int) -> pa.Table:
    return pa.table(
        {"event_id": pa.array(range(offset, offset + n), pa.int64()), "kind": ["click"] * n}
    )


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A small lake: files at several depths, a hive-partitioned dataset, a corrupt file,
    and files the connector must leave alone."""
    root = tmp_path / "lake"
    (root / "sales").mkdir(parents=True)
    pq.write_table(ORDERS, root / "sales" / "orders.parquet", row_group_size=300)
    (root / "sales" / "customers.csv").write_text(
        "id,name,signed_up,score\n"
        "1,Ada,2024-01-02,1.5\n"
        "2,Grace,2024-02-03,\n"
        "3,Alan,2024-03-04,2.25\n"
    )
    for (year, month), n in {(2023, 12): 5, (2024, 1): 7, (2024, 2): 11}.items():
        part = root / "events" / f"year={year}" / f"month={month}"
        part.mkdir(parents=True)
        pq.write_table(_events(n, year * 100 + month), part / "part-0.parquet")
    (root / "events" / "year=2024" / "month=1" / "_SUCCESS").write_text("")
    (root / "logs" / "app").mkdir(parents=True)
    lines: list[dict[str, Any]] = [
        {"level": "info", "code": None, "msg": f"m{i}"} for i in range(50)
    ]
    lines += [{"level": "warn", "code": 7, "msg": "late", "extra": {"k": "v"}}]
    (root / "logs" / "app" / "app.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (root / "broken").mkdir()
    (root / "broken" / "bad.parquet").write_bytes(b"this is not parquet at all")
    (root / "top.csv").write_text("a,b\n1,x\n2,y\n")
    (root / "README.md").write_text("not data")
    (root / ".hidden.csv").write_text("a\n1\n")
    return root


def _ctx(filters: Filters | None = None, **options: Any) -> SourceContext:
    return SourceContext("files-test", filters or Filters(), Options(**options))


def _extract(ctx: SourceContext | None = None, **config: Any) -> list[Unit]:
    source = FilesSource(FilesConfig.model_validate({"service": "lake", **config}), ctx or _ctx())
    source.check()
    try:
        return list(source.units())
    finally:
        source.close()


def F(*parts: str) -> str:
    """An FQN from its parts: file names hold dots, so they are quoted."""
    return fqn_mod.join(parts)


def _fqn_of(body: dict[str, Any]) -> str:
    return f"{body.get('parent') or body['service']}.{fqn_mod.quote(body['name'])}"


def _container(units: list[Unit], fqn: str) -> dict[str, Any]:
    """The body of the container `fqn` as the units carry it (the last one wins)."""
    found = [b for u in units for k, b in u.assets if k == "container" and _fqn_of(b) == fqn]
    assert found, f"no container {fqn}"
    return found[-1]


def _rows(units: list[Unit], fqn: str) -> dict[str, Any]:
    values = [
        v
        for u in units
        for k, f, o, v in u.observations
        if (k, f, o) == ("container", fqn, "row_count")
    ]
    assert len(values) == 1, values
    return values[0]


def _types(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["data_type"] for c in body["columns"]}


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        yield Catalog(store)
    finally:
        store.dispose()


BOT = WriteContext.for_principal(Principal("ingest", "bot", origin=Origin("ingestion", "t")))


def _push(catalog: Catalog, units: list[Unit]) -> None:
    lines = [BulkLine(k, b) for u in units for k, b in u.assets]
    outcomes = catalog.bulk_upsert(lines, BOT)
    assert [str(o.error) for o in outcomes if o.error] == []
    obs = [Observation(*o) for u in units for o in u.observations]
    assert ObservationLog(catalog.store).record(obs, BOT) == []


def test_one_container_per_file_and_per_partitioned_directory(lake: Path) -> None:
    units = _extract(path=str(lake))
    good = [u for u in units if u.error is None]
    assert [u.key for u in good] == [
        "top.csv",
        "events",
        "logs/app/app.jsonl",
        "sales/customers.csv",
        "sales/orders.parquet",
    ]
    for u in good:
        assert u.assets[0] == (
            "service",
            {
                "name": "lake",
                "category": "storage",
                "service_type": "files",
                "connection": {"path": str(lake)},
            },
        )

    orders = _container(units, F("lake", "sales", "orders.parquet"))
    assert orders["container_type"] == "file"
    assert orders["file_format"] == "parquet"
    assert orders["parent"] == "lake.sales"
    assert orders["path"] == str(lake / "sales" / "orders.parquet")
    assert orders["size_bytes"] == (lake / "sales" / "orders.parquet").stat().st_size
    assert orders["columns"] == [
        {"name": "order_id", "data_type": "int64", "nullable": False},
        {"name": "amount", "data_type": "double", "nullable": True},
        {"name": "placed_at", "data_type": "timestamp[us]", "nullable": True},
        {"name": "tags", "data_type": "list<element: string>", "nullable": True},
    ]
    assert _rows(units, F("lake", "sales", "orders.parquet")) == {"rows": 1000, "exact": True}

    sales = _container(units, "lake.sales")
    assert sales == {
        "name": "sales",
        "service": "lake",
        "container_type": "folder",
        "path": str(lake / "sales"),
    }

    customers = _container(units, F("lake", "sales", "customers.csv"))
    assert customers["file_format"] == "csv"
    assert _types(customers) == {
        "id": "int64",
        "name": "string",
        "signed_up": "date32[day]",
        "score": "double",
    }
    assert _rows(units, F("lake", "sales", "customers.csv")) == {"rows": 3, "exact": True}

    top = _container(units, F("lake", "top.csv"))
    assert "parent" not in top
    assert _rows(units, F("lake", "top.csv"))["rows"] == 2


def test_hive_partitions_make_one_dataset_with_partition_columns(lake: Path) -> None:
    units = _extract(path=str(lake))
    events = _container(units, "lake.events")
    assert events["container_type"] == "dataset"
    assert events["file_format"] == "parquet"
    assert "parent" not in events
    assert _types(events) == {
        "event_id": "int64",
        "kind": "string",
        "year": "int32",
        "month": "int32",
    }
    files = sorted((lake / "events").rglob("*.parquet"))
    assert events["size_bytes"] == sum(f.stat().st_size for f in files)
    assert _rows(units, "lake.events") == {"rows": 5 + 7 + 11, "exact": True, "files": 3}
    # No container for the partition folders or their files.
    fqns = {_fqn_of(b) for u in units for k, b in u.assets if k == "container"}
    assert not any("year=" in f for f in fqns)


def test_without_partition_detection_every_file_is_its_own_container(lake: Path) -> None:
    units = _extract(path=str(lake), partitioned=False, formats=["parquet"])
    keys = [u.key for u in units if u.error is None]
    assert keys == [
        "events/year=2023/month=12/part-0.parquet",
        "events/year=2024/month=1/part-0.parquet",
        "events/year=2024/month=2/part-0.parquet",
        "sales/orders.parquet",
    ]
    part = _container(units, F("lake", "events", "year=2024", "month=1", "part-0.parquet"))
    assert part["parent"] == "lake.events.year=2024.month=1"
    assert _types(part) == {"event_id": "int64", "kind": "string"}
    assert _container(units, "lake.events.year=2024")["container_type"] == "folder"


def test_a_corrupt_file_fails_alone(lake: Path) -> None:
    units = _extract(path=str(lake))
    failed = [u for u in units if u.error is not None]
    assert [u.key for u in failed] == ["broken/bad.parquet"]
    assert failed[0].assets == []
    assert "bad.parquet" in (failed[0].error or "")
    assert "parquet" in (failed[0].error or "").lower()
    assert len(units) - len(failed) == 5


def test_json_lines_types_widen_across_the_file(lake: Path) -> None:
    units = _extract(path=str(lake))
    app = _container(units, F("lake", "logs", "app", "app.jsonl"))
    assert app["parent"] == "lake.logs.app"
    assert _container(units, "lake.logs.app")["parent"] == "lake.logs"
    # `code` is null for 50 lines then a number; `extra` appears on the last line only.
    assert _types(app) == {
        "level": "string",
        "code": "int64",
        "msg": "string",
        "extra": "struct<k: string>",
    }
    assert _rows(units, F("lake", "logs", "app", "app.jsonl")) == {"rows": 51, "exact": True}


def test_mixed_json_value_types_are_read_as_text(tmp_path: Path) -> None:
    lines = ['{"v": 1}'] * 3 + ['{"v": "one"}'] + ["not json"]
    (tmp_path / "ok.jsonl").write_text("\n".join(lines[:4]) + "\n")
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    units = _extract(path=str(tmp_path))
    assert [u.key for u in units if u.error] == ["bad.jsonl"]
    assert _types(_container(units, F("lake", "ok.jsonl"))) == {"v": "string"}
    assert _rows(units, F("lake", "ok.jsonl"))["rows"] == 4


def test_a_record_with_a_mixed_array_is_typed_not_failed(tmp_path: Path) -> None:
    """Arrow cannot type `[1, "a"]` even on its own: the record is typed from its parsed value
    (the array's items as text) and the file is catalogued with every row counted."""
    lines = [
        '{"id": 1, "tags": ["a", "b"], "score": 1.5}',
        '{"id": 2, "tags": [1, "a", null], "score": 2}',
        '{"id": 3, "tags": [], "nested": {"xs": [true, "no"]}}',
    ]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    units = _extract(path=str(tmp_path))
    assert [u.key for u in units if u.error] == []
    assert _types(_container(units, F("lake", "mixed.jsonl"))) == {
        "id": "int64",
        "tags": "list<item: string>",
        "score": "double",
        "nested": "struct<xs: list<item: string>>",
    }
    assert _rows(units, F("lake", "mixed.jsonl")) == {"rows": 3, "exact": True}


@pytest.mark.parametrize(
    ("sep", "name"), [(";", "semi.csv"), ("\t", "tabs.csv"), ("|", "pipes.csv")]
)
def test_the_csv_delimiter_is_found_from_the_first_lines(
    tmp_path: Path, sep: str, name: str
) -> None:
    rows = ["id", "amount", "note"], ["1", "12.50", '"a, b; c"'], ["2", "3.25", "plain"]
    (tmp_path / name).write_text("".join(sep.join(r) + "\n" for r in rows))
    units = _extract(path=str(tmp_path))
    table = _container(units, F("lake", name))
    assert _types(table) == {"id": "int64", "amount": "double", "note": "string"}
    assert _rows(units, F("lake", name)) == {"rows": 2, "exact": True}


def test_a_configured_delimiter_wins_over_the_guess(tmp_path: Path) -> None:
    # Split on `;` or on `|`, every line has two fields: the guess takes `;`, the config `|`.
    (tmp_path / "odd.csv").write_text("a|b;c\n1|x;2\n3|y;4\n")
    guessed = _types(_container(_extract(path=str(tmp_path)), F("lake", "odd.csv")))
    assert guessed == {"a|b": "string", "c": "int64"}
    told = _types(_container(_extract(path=str(tmp_path), delimiter="|"), F("lake", "odd.csv")))
    assert told == {"a": "int64", "b;c": "string"}
    with pytest.raises(ValueError, match="delimiter"):
        FilesConfig.model_validate({"service": "lake", "path": str(tmp_path), "delimiter": ";;"})


def test_csv_column_whose_type_changes_after_the_first_block(tmp_path: Path) -> None:
    n = 120_000  # > 1 MiB, so pyarrow infers `flag` as int64 from the first block alone
    body = "".join(f"{i},{i % 2},row number {i}\n" for i in range(n))
    (tmp_path / "big.csv").write_text("id,flag,text\n" + body + f"{n},maybe,last\n")
    units = _extract(path=str(tmp_path))
    big = _container(units, F("lake", "big.csv"))
    assert _types(big) == {"id": "int64", "flag": "string", "text": "string"}
    assert _rows(units, F("lake", "big.csv")) == {"rows": n + 1, "exact": True}


def test_large_text_files_are_scanned_only_up_to_scan_bytes(tmp_path: Path) -> None:
    n = 200_000
    (tmp_path / "big.csv").write_text(
        "id,name\n" + "".join(f"{i},name-{i:06d}\n" for i in range(n))
    )
    with gzip.open(tmp_path / "big.csv.gz", "wt") as f:
        f.write("id,name\n" + "".join(f"{i},name-{i:06d}\n" for i in range(n)))
    (tmp_path / "big.jsonl").write_text(
        "".join(f'{{"id": {i}, "s": "x{i:06d}"}}\n' for i in range(n))
    )
    units = _extract(path=str(tmp_path), scan_bytes=256 * 1024)
    csv_rows = _rows(units, F("lake", "big.csv"))
    assert csv_rows["exact"] is False
    assert abs(csv_rows["rows"] - n) < n * 0.1
    json_rows = _rows(units, F("lake", "big.jsonl"))
    assert json_rows["exact"] is False
    assert abs(json_rows["rows"] - n) < n * 0.1
    # A compressed file's size says nothing about its rows: no guess.
    assert not [o for u in units for o in u.observations if o[1] == F("lake", "big.csv.gz")]
    assert _types(_container(units, F("lake", "big.csv.gz"))) == {"id": "int64", "name": "string"}
    # The same files read whole are exact.
    units = _extract(path=str(tmp_path))
    assert _rows(units, F("lake", "big.csv")) == {"rows": n, "exact": True}
    assert _rows(units, F("lake", "big.csv.gz")) == {"rows": n, "exact": True}
    assert _rows(units, F("lake", "big.jsonl")) == {"rows": n, "exact": True}


def test_row_counts_off_reads_no_further_than_the_schema(lake: Path) -> None:
    units = _extract(_ctx(row_counts=False), path=str(lake))
    assert [o for u in units for o in u.observations] == []
    assert _types(_container(units, F("lake", "sales", "customers.csv")))["id"] == "int64"


def test_table_filter_applies_to_dataset_names_and_keeps_their_folders(lake: Path) -> None:
    filters = Filters(tables=Filter(include=[r".*\.parquet", "events"], exclude=["orders.*"]))
    ctx = _ctx(filters)
    units = _extract(ctx, path=str(lake))
    datasets = [
        b["name"]
        for u in units
        for k, b in u.assets
        if k == "container" and b["container_type"] != "folder"
    ]
    assert datasets == ["events"]
    assert [u.key for u in units if u.error] == ["broken/bad.parquet"]
    # Folders of excluded files are still seen, so stale removal leaves them alone.
    folder_units = {
        u.key: [b["name"] for _, b in u.assets[1:]] for u in units if u.key.endswith("/")
    }
    assert folder_units == {
        "logs/app/": ["logs", "app"],
        "sales/": ["sales"],
    }
    source = FilesSource(FilesConfig(service="lake", path=str(lake)), ctx)
    assert source.scope() == [("container", "lake")]
    assert source.in_scope("container", "lake.events")
    assert not source.in_scope("container", F("lake", "sales", "orders.parquet"))
    assert not source.in_scope("container", "other.events")


def test_units_land_in_the_catalog(lake: Path, catalog: Catalog) -> None:
    units = [u for u in _extract(path=str(lake)) if u.error is None]
    _push(catalog, units)
    orders = catalog.get("container", Key(fqn=F("lake", "sales", "orders.parquet")))
    first = orders.doc["columns"][0]
    assert (first["name"], first["data_type"], first["nullable"]) == ("order_id", "int64", False)
    sales = catalog.get("container", Key(fqn="lake.sales"))
    assert orders.parent_id == sales.id
    assert catalog.get("container", Key(fqn="lake.events")).doc["container_type"] == "dataset"
    log = ObservationLog(catalog.store).read(orders.id, "row_count")
    assert [o["value"] for o in log] == [{"rows": 1000, "exact": True}]
    # A second extraction changes nothing.
    again = catalog.bulk_upsert(
        [BulkLine(k, b) for u in _extract(path=str(lake)) if u.error is None for k, b in u.assets],
        BOT,
    )
    assert {o.status for o in again} == {"unchanged"}


def test_fsspec_urls(catalog: Catalog) -> None:
    fs = fsspec.filesystem("memory")
    with fs.open("/warehouse/raw/people.csv", "wb") as f:
        f.write(b"id,name\n1,Ada\n2,Grace\n")
    with fs.open("/warehouse/raw/clicks/day=2024-05-01/part.parquet", "wb") as f:
        pq.write_table(_events(3, 0), f)
    with fs.open("/warehouse/raw/clicks/day=2024-05-02/part.parquet", "wb") as f:
        pq.write_table(_events(4, 3), f)
    try:
        units = _extract(path="memory://warehouse")
        assert [u.key for u in units] == ["raw/people.csv", "raw/clicks"]
        people = _container(units, F("lake", "raw", "people.csv"))
        assert people["path"] == "memory:///warehouse/raw/people.csv"
        clicks = _container(units, "lake.raw.clicks")
        assert _types(clicks) == {"event_id": "int64", "kind": "string", "day": "string"}
        assert _rows(units, "lake.raw.clicks")["rows"] == 7
        _push(catalog, units)
    finally:
        fs.rm("/warehouse", recursive=True)


def test_a_single_file_or_a_partitioned_root(lake: Path) -> None:
    units = _extract(path=str(lake / "sales" / "orders.parquet"))
    assert [u.key for u in units] == ["orders.parquet"]
    assert "parent" not in _container(units, F("lake", "orders.parquet"))
    units = _extract(path=str(lake / "events"))
    assert [u.key for u in units] == ["events"]
    assert _rows(units, "lake.events")["rows"] == 23


def test_config_errors_say_how_to_fix_them(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="formats"):
        FilesConfig.model_validate({"service": "lake", "path": ".", "formats": ["xlsx"]})
    with pytest.raises(ValidationError, match="extra"):
        FilesConfig.model_validate({"service": "lake", "path": ".", "recursive": True})
    with pytest.raises(ValidationError, match="name"):
        FilesConfig.model_validate({"service": "la\x00ke", "path": "."})
    source = FilesSource(FilesConfig(service="lake", path=str(tmp_path / "nope")), _ctx())
    with pytest.raises(PermanentError, match="does not exist"):
        source.check()
    assert registry.load("files") is FilesSource


def test_a_recipe_run_reports_the_corrupt_file_and_writes_the_rest(
    lake: Path, catalog: Catalog
) -> None:
    recipe = parse_recipe(
        {
            "pipeline": "lake-files",
            "source": {"type": "files", "config": {"service": "lake", "path": str(lake)}},
        }
    )
    report = run_pipeline(recipe, CatalogSink(catalog, "lake-files"), StateStore(catalog.store))
    assert report.status == "partial"
    assert len(report.failures) == 1 and "bad.parquet" in report.failures[0]
    assert catalog.get("container", Key(fqn="lake.events")).doc["container_type"] == "dataset"
    assert report.created > 0
    again = run_pipeline(recipe, CatalogSink(catalog, "lake-files"), StateStore(catalog.store))
    assert (again.status, again.created, again.updated, again.deleted) == ("partial", 0, 0, 0)


def test_an_unchanged_file_is_not_opened_again(
    lake: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    inspect = FilesSource._inspect

    def counted(self: FilesSource, fmt: Any, path: str, size: int, budget: int) -> Any:
        opened.append(Path(path).relative_to(lake).as_posix())
        return inspect(self, fmt, path, size, budget)

    monkeypatch.setattr(FilesSource, "_inspect", counted)

    def run(**options: Any) -> Any:
        opened.clear()
        recipe = parse_recipe(
            {
                "pipeline": "lake-files",
                "source": {"type": "files", "config": {"service": "lake", "path": str(lake)}},
                "options": options,
            }
        )
        return run_pipeline(recipe, CatalogSink(catalog, "lake-files"), StateStore(catalog.store))

    first = run()
    # 4 files, the 3 partition files of events and the corrupt one: 6 containers
    assert len(opened) == 8
    cursor = catalog.last_event()

    second = run()
    assert opened == ["broken/bad.parquet"]  # a unit that failed is read until it is stored
    assert (second.units_not_extracted, second.updated, second.created) == (5, 0, 0)
    assert catalog.last_event() == cursor
    assert second.units == first.units

    # Rewritten with a new column (a later mtime): that file alone is read again.
    customers = lake / "sales" / "customers.csv"
    customers.write_text("id,name,signed_up,score,tier\n1,Ada,2024-01-02,1.5,gold\n")
    later = customers.stat().st_mtime + 10
    os.utime(customers, (later, later))
    third = run()
    assert sorted(opened) == ["broken/bad.parquet", "sales/customers.csv"]
    doc = catalog.get("container", Key(fqn=F("lake", "sales", "customers.csv"))).doc
    assert [c["name"] for c in doc["columns"]][-1] == "tier"
    assert third.updated == 1

    # A new partition file: the whole dataset is read again, nothing else.
    part = lake / "events" / "year=2024" / "month=3"
    part.mkdir()
    pq.write_table(_events(3, 202403), part / "part-0.parquet")
    run()
    assert sorted(p for p in opened if p.startswith("events/")) == [
        "events/year=2023/month=12/part-0.parquet",
        "events/year=2024/month=1/part-0.parquet",
        "events/year=2024/month=2/part-0.parquet",
        "events/year=2024/month=3/part-0.parquet",
    ]
    assert len(opened) == 5

    # An option that shapes the units reads everything once.
    run(row_counts=False)
    assert len(opened) == 9
