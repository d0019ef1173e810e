"""Files: Parquet, CSV and JSON Lines files in a directory or an fsspec URL.

Each file is a `file` container and each hive-partitioned directory (`year=2024/month=01/...`)
one `dataset` container, under `folder` containers that mirror the directories between the root
and the data. Schemas come from pyarrow: Parquet footers (no data read), CSV and JSON Lines read
as streams of blocks up to `scan_bytes`, so memory stays flat whatever the file size. Row counts
are observations (`row_count`) on the container, exact unless the scan stopped early.

Change detection: a container's unit is fingerprinted from the listing alone (each data file's
path, size and what the filesystem says of its version: mtime locally, ETag or generation in
object stores), with its folders, the config and the options. A container whose fingerprint is
the one it was committed with is not opened again; one whose files carry no version is
always read.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import unquote

import fsspec
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from pydantic import Field, field_validator

import lodestar
from lodestar.ingest.errors import IngestError, PermanentError
from lodestar.ingest.source import Source, SourceConfig, SourceContext, Unit
from lodestar.model import fqn as fqn_mod

FileFormat = Literal["parquet", "csv", "jsonl"]
StorageOption = str | int | float | bool | None

_ALL_FORMATS: tuple[FileFormat, ...] = ("parquet", "csv", "jsonl")
_SUFFIXES: dict[str, FileFormat] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".parq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_COMPRESSED = (".gz", ".bz2")
_BLOCK = 1 << 20
_MAX_COLUMNS = 4096
_MAX_TYPE_LENGTH = 512
_MAX_PATH_LENGTH = 512
_CSV_BAD_COLUMN = re.compile(r"In CSV column #(\d+)")
_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_INT = re.compile(r"^[+-]?\d{1,9}$")
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Listing fields that change when a file is rewritten: local and most filesystems (mtime),
# S3 (ETag, LastModified, VersionId), GCS (generation, md5Hash, updated), Azure (etag,
# last_modified), the memory filesystem (created).
_VERSION_FIELDS = (
    "mtime", "ETag", "etag", "LastModified", "last_modified", "VersionId", "version_id",
    "generation", "md5Hash", "updated", "created",
)  # fmt: skip
# Bump when what a container's unit carries changes for the same files: they are read again.
FINGERPRINT_VERSION = 2  # 2: CSV delimiters sniffed, mixed JSON records typed


class FilesConfig(SourceConfig):
    service: str = Field(
        description="Name of the storage service the files are catalogued under, e.g. `lake`."
    )
    path: str = Field(
        min_length=1,
        description="A local directory (or single file), or an fsspec URL such as "
        "`s3://bucket/prefix` or `gs://bucket/dir`.",
    )
    formats: list[FileFormat] = Field(
        default_factory=lambda: list(_ALL_FORMATS),
        min_length=1,
        description="File formats to catalogue, by extension: parquet (.parquet, .pq), csv "
        "(.csv), jsonl (.jsonl, .ndjson); CSV and JSON Lines may be .gz or .bz2 compressed.",
    )
    partitioned: bool = Field(
        True,
        description="Catalogue a directory of hive-style `key=value` sub-folders as one dataset "
        "(partition keys become columns) instead of one container per file.",
    )
    storage_options: dict[str, StorageOption] = Field(
        default_factory=dict,
        description="Options for the fsspec filesystem (endpoint_url, anon, region...). Give "
        "secrets as `${ENV_VAR}` references.",
    )
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="The CSV field separator; unset: found from the file's first lines (comma, "
        "semicolon, tab or pipe).",
    )
    scan_bytes: int = Field(
        64 * 1024 * 1024,
        ge=4096,
        description="Bytes of CSV or JSON Lines read per file or partitioned dataset to infer "
        "the schema and count rows; beyond that the row count is estimated.",
    )

    @field_validator("service")
    @classmethod
    def _service(cls, v: str) -> str:
        try:
            return fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(f"{e}: give the storage service's name, such as `lake`") from None

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: list[FileFormat]) -> list[FileFormat]:
        return list(dict.fromkeys(v))


@dataclass(slots=True)
class _Stats:
    schema: pa.Schema
    rows: int | None
    exact: bool
    consumed: int = 0  # bytes of CSV/JSON Lines read


@dataclass(slots=True)
class _Found:
    """A file or hive-partitioned directory to catalogue."""

    folders: list[tuple[str, str]]  # (name, path) of each directory between root and here
    name: str
    path: str
    file_format: FileFormat
    files: list[tuple[str, int]]  # (path, size) of every data file
    versions: dict[str, str | None] = field(default_factory=dict)  # path -> _version(entry)
    partitions: list[str] = field(default_factory=list)  # hive keys, outermost first
    values: dict[str, list[str]] = field(default_factory=dict)  # key -> values seen

    @property
    def is_dataset(self) -> bool:
        return bool(self.partitions)


class _Retype(Exception):
    """A CSV column's type, inferred from the first block, does not hold further down."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


class FilesSource(Source):
    config_model: ClassVar[type[SourceConfig]] = FilesConfig
    description: ClassVar[str] = "Parquet, CSV and JSON Lines files in a directory or fsspec URL."

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, FilesConfig)
        self.cfg = config
        self._fs: Any = None
        self._root = ""
        self.service_fqn = fqn_mod.join([config.service])
        self._previous: Mapping[str, str] = {}

    # -- the Source interface ------------------------------------------------------------
    def check(self) -> None:
        fs, root = self._filesystem()
        if not self.ctx.retry(f"look up {self.cfg.path}", lambda: fs.exists(root)):
            raise PermanentError(
                f"{self.cfg.path} does not exist: set path to a directory or fsspec URL"
            )

    def units(self) -> Iterator[Unit]:
        fs, root = self._filesystem()
        info = self.ctx.retry(f"look up {self.cfg.path}", lambda: fs.info(root))
        emitted: set[str] = set()
        for found in self._walk(fs, root, info):
            key = self._relative(found.path) or found.name
            try:
                folder_assets = self._folder_assets(found.folders)
            except fqn_mod.FQNError as e:
                yield Unit(key, error=f"{found.path}: {e}")
                continue
            if not self.ctx.filters.tables.allows(found.name):
                # Keep the folders seen, so that stale removal leaves excluded data alone.
                missing = [a for a in folder_assets if _container_fqn(a[1]) not in emitted]
                if missing:
                    emitted.update(_container_fqn(a[1]) for a in missing)
                    folder_key = self._relative(found.folders[-1][1]) + "/"
                    yield Unit(folder_key, assets=[self._service_asset(), *folder_assets])
                continue
            fingerprint = self._fingerprint(found, folder_assets)
            if fingerprint is not None and self._previous.get(key) == fingerprint:
                emitted.update(_container_fqn(a[1]) for a in folder_assets)
                yield Unit(key, fingerprint=fingerprint, unchanged=True)
                continue
            try:
                unit = self._dataset_unit(key, found, folder_assets)
                unit.fingerprint = fingerprint
            except Exception as e:  # one bad file is reported; the rest of the run goes on
                said = _first_line(e)  # retried reads already name the file
                yield Unit(
                    key, error=said if isinstance(e, IngestError) else f"{found.path}: {said}"
                )
                continue
            emitted.update(_container_fqn(a[1]) for a in folder_assets)
            yield unit

    def skip_unchanged(self, previous: Mapping[str, str]) -> None:
        self._previous = previous

    def scope(self) -> list[tuple[str, str]]:
        return [("container", self.service_fqn)]

    def in_scope(self, kind: str, fqn: str) -> bool:
        if kind != "container":
            return False
        parts = fqn_mod.split(fqn)
        return parts[0] == self.cfg.service and self.ctx.filters.tables.allows(parts[-1])

    # -- discovery -----------------------------------------------------------------------
    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            self._fs, self._root = fsspec.core.url_to_fs(self.cfg.path, **self.cfg.storage_options)
        return self._fs, self._root

    def _ls(self, fs: Any, path: str) -> list[dict[str, Any]]:
        entries = self.ctx.retry(f"list {path}", lambda: fs.ls(path, detail=True))
        visible = [e for e in entries if not _hidden(_basename(e["name"]))]
        return sorted(visible, key=lambda e: str(e["name"]))

    def _walk(self, fs: Any, root: str, info: dict[str, Any]) -> Iterator[_Found]:
        name = _basename(root) or self.cfg.service
        if info.get("type") != "directory":
            fmt = self._format_of(root)
            if fmt is not None:
                found = _Found([], name, root, fmt, [(root, int(info.get("size") or 0))])
                found.versions[root] = _version(info)
                yield found
            return
        listing = self._ls(fs, root)
        if self.cfg.partitioned:
            hive = self._hive(fs, [], name, root, listing)
            if hive is not None:
                yield hive
                return
        yield from self._walk_dir(fs, [], listing)

    def _walk_dir(
        self, fs: Any, folders: list[tuple[str, str]], listing: list[dict[str, Any]]
    ) -> Iterator[_Found]:
        dirs = []
        for entry in listing:
            path = str(entry["name"])
            if entry.get("type") == "directory":
                dirs.append(path)
                continue
            fmt = self._format_of(path)
            if fmt is not None:
                size = int(entry.get("size") or 0)
                found = _Found(folders, _basename(path), path, fmt, [(path, size)])
                found.versions[path] = _version(entry)
                yield found
        for path in dirs:
            sub = self._ls(fs, path)
            name = _basename(path)
            if self.cfg.partitioned:
                hive = self._hive(fs, folders, name, path, sub)
                if hive is not None:
                    yield hive
                    continue
            yield from self._walk_dir(fs, [*folders, (name, path)], sub)

    def _hive(
        self,
        fs: Any,
        folders: list[tuple[str, str]],
        name: str,
        path: str,
        listing: list[dict[str, Any]],
    ) -> _Found | None:
        """The dataset a directory of `key=value` sub-folders holds, or None if it is not one."""
        found = _Found(folders, name, path, "parquet", [])
        formats: dict[FileFormat, int] = {}

        def collect(level: list[dict[str, Any]], depth: int) -> bool:
            if not level:
                return depth > 0  # an empty partition
            if all(e.get("type") != "directory" for e in level):
                if depth == 0:
                    return False
                for e in level:
                    fmt = self._format_of(str(e["name"]))
                    if fmt is not None:
                        formats[fmt] = formats.get(fmt, 0) + 1
                        found.files.append((str(e["name"]), int(e.get("size") or 0)))
                        found.versions[str(e["name"])] = _version(e)
                return True
            keys = set()
            for e in level:
                key, eq, value = _basename(str(e["name"])).partition("=")
                if e.get("type") != "directory" or not eq or not key:
                    return False
                keys.add(key)
                found.values.setdefault(key, []).append(unquote(value))
            if len(keys) != 1:
                return False
            key = keys.pop()
            if key in found.partitions[:depth]:
                return False
            if len(found.partitions) <= depth:
                found.partitions.append(key)
            elif found.partitions[depth] != key:
                return False
            return all(collect(self._ls(fs, str(e["name"])), depth + 1) for e in level)

        if not collect(listing, 0) or not formats:
            return None
        found.file_format = max(formats, key=lambda f: formats[f])
        if len(formats) > 1:
            self.ctx.warn(f"{path}: mixes {sorted(formats)} files; reading the {found.file_format}")
            found.files = [f for f in found.files if self._format_of(f[0]) == found.file_format]
        return found

    def _format_of(self, path: str) -> FileFormat | None:
        name = _basename(path).lower()
        for ext in _COMPRESSED:
            if name.endswith(ext):
                name = name[: -len(ext)]
                if name.endswith((".parquet", ".pq", ".parq")):
                    return None  # Parquet compresses inside the file
                break
        dot = name.rfind(".")
        fmt = _SUFFIXES.get(name[dot:]) if dot > 0 else None
        return fmt if fmt in self.cfg.formats else None

    # -- assets --------------------------------------------------------------------------
    def _service_asset(self) -> tuple[str, dict[str, Any]]:
        return (
            "service",
            {
                "name": self.cfg.service,
                "category": "storage",
                "service_type": "files",
                "connection": {"path": self.cfg.path},
            },
        )

    def _folder_assets(self, folders: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        parent: str | None = None
        for name, path in folders:
            body: dict[str, Any] = {
                "name": fqn_mod.check_part(name),
                "service": self.service_fqn,
                "container_type": "folder",
            }
            if parent:
                body["parent"] = parent
            self._set_path(body, path)
            out.append(("container", body))
            parent = _container_fqn(body)
        return out

    def _fingerprint(
        self, found: _Found, folder_assets: list[tuple[str, dict[str, Any]]]
    ) -> str | None:
        """The unit's fingerprint from the listing, taken before any file is opened; None when
        a file's listing says nothing of its version (it is then read every run)."""
        files = [(path, size, found.versions.get(path)) for path, size in found.files]
        if not files or any(version is None for _p, _s, version in files):
            return None
        value = [
            lodestar.__version__,
            FINGERPRINT_VERSION,
            self.cfg.model_dump(mode="json"),
            self.ctx.options.row_counts,
            folder_assets,
            [found.name, found.path, found.partitions, found.values],
            files,
        ]
        return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def _dataset_unit(
        self, key: str, found: _Found, folder_assets: list[tuple[str, dict[str, Any]]]
    ) -> Unit:
        stats = self._stats(found)
        columns = _columns(stats.schema)
        if len(columns) > _MAX_COLUMNS:
            self.ctx.warn(f"{found.path}: {len(columns)} columns; kept the first {_MAX_COLUMNS}")
            columns = columns[:_MAX_COLUMNS]
        body: dict[str, Any] = {
            "name": fqn_mod.check_part(found.name),
            "service": self.service_fqn,
            "container_type": "dataset" if found.is_dataset else "file",
            "file_format": found.file_format,
            "size_bytes": sum(size for _, size in found.files),
            "columns": columns,
        }
        if folder_assets:
            body["parent"] = _container_fqn(folder_assets[-1][1])
        self._set_path(body, found.path)
        unit = Unit(key, assets=[self._service_asset(), *folder_assets, ("container", body)])
        if stats.rows is not None:
            value: dict[str, Any] = {"rows": stats.rows, "exact": stats.exact}
            if found.is_dataset:
                value["files"] = len(found.files)
            unit.observations.append(("container", _container_fqn(body), "row_count", value))
        return unit

    def _set_path(self, body: dict[str, Any], path: str) -> None:
        shown = self._fs.unstrip_protocol(path) if "://" in self.cfg.path else path
        if len(shown) <= _MAX_PATH_LENGTH:
            body["path"] = shown

    def _relative(self, path: str) -> str:
        root = self._root.rstrip("/")
        return path[len(root) + 1 :] if path.startswith(root + "/") else ""

    # -- reading -------------------------------------------------------------------------
    def _stats(self, found: _Found) -> _Stats:
        count = self.ctx.options.row_counts
        budget = self.cfg.scan_bytes
        schema: pa.Schema | None = None
        rows: int | None = 0
        exact = True
        scanned_rows = scanned_bytes = 0
        unscanned: list[int] = []
        for path, size in found.files:
            if found.file_format != "parquet" and budget <= 0 and schema is not None:
                unscanned.append(size)
                continue
            st = self._inspect_retried(found.file_format, path, size, budget)
            budget -= st.consumed
            schema = st.schema if schema is None else _merge_schemas(schema, st.schema)
            if st.rows is None or rows is None:
                rows = None
            else:
                rows += st.rows
                exact = exact and st.exact
                if st.exact and st.consumed:
                    scanned_rows += st.rows
                    scanned_bytes += st.consumed
        if unscanned and rows is not None:
            if scanned_bytes and not _compressed(found.files[0][0]):
                rows += round(scanned_rows * sum(unscanned) / scanned_bytes)
                exact = False
            else:
                rows = None
        assert schema is not None
        if found.partitions:
            schema = _with_partitions(schema, found)
        return _Stats(schema, rows if count else None, exact)

    def _inspect_retried(self, fmt: FileFormat, path: str, size: int, budget: int) -> _Stats:
        return self.ctx.retry(f"read {path}", lambda: self._inspect(fmt, path, size, budget))

    def _inspect(self, fmt: FileFormat, path: str, size: int, budget: int) -> _Stats:
        count = self.ctx.options.row_counts
        if fmt == "parquet":
            with self._fs.open(path, "rb") as f:
                pf = pq.ParquetFile(f)
                return _Stats(pf.schema_arrow, pf.metadata.num_rows, True)
        if size == 0:
            return _Stats(pa.schema([]), 0, True)
        limit = max(budget, 4096)
        if fmt == "csv":
            types: dict[str, pa.DataType] = {}
            for _ in range(_MAX_COLUMNS):
                try:
                    return self._scan_csv(path, size, limit, count, types)
                except _Retype as r:
                    types[r.column] = pa.string()
            raise PermanentError(f"{path}: column types keep changing")
        return self._scan_jsonl(path, size, limit, count)

    def _open(self, path: str) -> Any:
        return self._fs.open(path, "rb", compression="infer")

    def _scan_csv(
        self, path: str, size: int, limit: int, count: bool, types: dict[str, pa.DataType]
    ) -> _Stats:
        # pyarrow reads about 32 blocks ahead and yields one batch per block: size blocks so
        # that what it holds stays near `limit`, and count bytes in blocks parsed.
        block = min(max(limit // 32, 16 * 1024), _BLOCK)
        delimiter = self.cfg.delimiter or self._sniff_delimiter(path)
        with self._open(path) as f:
            reader = pa_csv.open_csv(
                f,
                read_options=pa_csv.ReadOptions(block_size=block, use_threads=False),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                convert_options=pa_csv.ConvertOptions(column_types=types),
            )
            schema = reader.schema
            if not count:
                return _Stats(schema, None, False, block)
            rows = parsed = 0
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return _Stats(schema, rows, True, parsed)
                except pa.ArrowInvalid as e:
                    m = _CSV_BAD_COLUMN.search(str(e))
                    if m and int(m.group(1)) < len(schema.names):
                        column = schema.names[int(m.group(1))]
                        if column not in types:
                            raise _Retype(column) from None
                    raise
                rows += batch.num_rows
                parsed += block
                if parsed >= limit and (parsed < size or _compressed(path)):
                    return _estimate(schema, rows, parsed, size, path)

    def _sniff_delimiter(self, path: str) -> str:
        """The separator of a CSV file, from its first lines: the candidate that splits the
        most lines into the same number of fields (more than one)."""
        with self._open(path) as f:
            head = f.read(_SNIFF_BYTES)
        text = head.decode("utf-8", errors="replace")
        lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
        if len(head) == _SNIFF_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut short
        best, best_score = ",", (0, 0)
        for cand in _DELIMITERS:
            counts = [_fields(ln, cand) for ln in lines]
            if not counts or counts[0] < 2:
                continue
            score = (sum(c == counts[0] for c in counts), counts[0])
            if score > best_score:
                best, best_score = cand, score
        return best

    def _scan_jsonl(self, path: str, size: int, limit: int, count: bool) -> _Stats:
        fields: dict[str, pa.Field] = {}
        rows = consumed = 0
        rest = b""

        def take(block: bytes) -> None:
            nonlocal rows, consumed
            consumed += len(block)
            if block.strip():
                schema, n = _read_json_block(block)
                rows += n
                for fld in schema:
                    old = fields.get(fld.name)
                    fields[fld.name] = fld if old is None else _merge_field(old, fld)

        with self._open(path) as f:
            while True:
                chunk = f.read(_BLOCK)
                if not chunk:
                    take(rest)
                    return _Stats(pa.schema(list(fields.values())), rows, True, consumed)
                if consumed >= limit or (fields and not count):
                    schema = pa.schema(list(fields.values()))
                    if not count:
                        return _Stats(schema, None, False, consumed)
                    return _estimate(schema, rows, consumed, size, path)
                data = rest + chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    if len(data) > limit:
                        raise PermanentError(f"{path}: a line is longer than scan_bytes ({limit})")
                    rest = data
                    continue
                rest = data[cut + 1 :]
                take(data[: cut + 1])


def _read_json_block(block: bytes) -> tuple[pa.Schema, int]:
    """Schema and row count of complete JSON lines; lines disagreeing on a type are read one
    by one so the disagreement widens the type instead of failing the file."""
    opts = pa_json.ReadOptions(use_threads=False, block_size=len(block) + 1)
    try:
        table = pa_json.read_json(io.BytesIO(block), read_options=opts)
        return table.schema, table.num_rows
    except pa.ArrowInvalid as e:
        if "changed from" not in str(e) and "unexpected field" not in str(e):
            raise
    fields: dict[str, pa.Field] = {}
    rows = 0
    for line in block.splitlines():
        if not line.strip():
            continue
        try:
            one_schema = pa_json.read_json(io.BytesIO(line), read_options=opts).schema
        except pa.ArrowInvalid:
            # A record Arrow cannot type on its own (an array of numbers and strings): typed
            # from its parsed value, its mixed parts as text.
            one_schema = _schema_of_record(line)
        rows += 1
        for fld in one_schema:
            old = fields.get(fld.name)
            fields[fld.name] = fld if old is None else _merge_field(old, fld)
    return pa.schema(list(fields.values())), rows


def _schema_of_record(line: bytes) -> pa.Schema:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise PermanentError(f"a line is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise PermanentError("a line of JSON Lines must be an object")
    return pa.schema([pa.field(str(k), _type_of(v)) for k, v in value.items()])


def _type_of(value: Any, depth: int = 0) -> pa.DataType:
    """The Arrow type of a parsed JSON value; parts that disagree are text."""
    if value is None:
        return pa.null()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, str) or depth > 16:
        return pa.string()
    if isinstance(value, list):
        item: pa.Field | None = None
        for x in value:
            f = pa.field("item", _type_of(x, depth + 1))
            item = f if item is None else _merge_field(item, f)
        return pa.list_(pa.null() if item is None else item.type)
    if isinstance(value, dict):
        return pa.struct([pa.field(str(k), _type_of(v, depth + 1)) for k, v in value.items()])
    return pa.string()


def _estimate(schema: pa.Schema, rows: int, consumed: int, size: int, path: str) -> _Stats:
    if _compressed(path):
        return _Stats(schema, None, False, consumed)
    return _Stats(schema, round(rows * size / consumed), False, consumed)


def _merge_field(a: pa.Field, b: pa.Field) -> pa.Field:
    try:
        merged: pa.Field = pa.unify_schemas(
            [pa.schema([a]), pa.schema([b])], promote_options="permissive"
        ).field(0)
        return merged
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.field(a.name, pa.string(), nullable=True)  # mixed values: read as text


def _merge_schemas(a: pa.Schema, b: pa.Schema) -> pa.Schema:
    fields = {f.name: f for f in a}
    for f in b:
        old = fields.get(f.name)
        fields[f.name] = f if old is None else _merge_field(old, f)
    return pa.schema(list(fields.values()))


def _with_partitions(schema: pa.Schema, found: _Found) -> pa.Schema:
    """Partition keys as pyarrow's hive discovery types them: int32 when every value is an
    integer, else string."""
    fields = list(schema)
    names = set(schema.names)
    for key in found.partitions:
        if key in names:
            continue
        values = [v for v in found.values.get(key, []) if v != _HIVE_NULL]
        typ = pa.int32() if values and all(_INT.match(v) for v in values) else pa.string()
        fields.append(pa.field(key, typ, nullable=True))
    return pa.schema(fields)


def _columns(schema: pa.Schema) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, f in enumerate(schema):
        name = "".join(ch for ch in str(f.name) if ord(ch) >= 0x20 and ord(ch) != 0x7F)
        name = name.strip()[: fqn_mod.MAX_PART_LENGTH].strip() or f"column_{i + 1}"
        while name in seen:
            name = f"{name}_{i + 1}"
        seen.add(name)
        text = str(f.type)
        if len(text) > _MAX_TYPE_LENGTH:
            text = text[: _MAX_TYPE_LENGTH - 3] + "..."
        out.append({"name": name, "data_type": text, "nullable": bool(f.nullable)})
    return out


def _fields(line: str, delimiter: str) -> int:
    """Fields of one CSV line, quotes respected."""
    n, quoted = 1, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            n += 1
    return n


def _container_fqn(body: dict[str, Any]) -> str:
    return f"{body.get('parent') or body['service']}.{fqn_mod.quote(body['name'])}"


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _compressed(path: str) -> bool:
    return path.lower().endswith(_COMPRESSED)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


def _version(entry: dict[str, Any]) -> str | None:
    """What a listing entry says of the file's version, or None if it says nothing."""
    seen = [f"{k}={entry[k]}" for k in _VERSION_FIELDS if entry.get(k) is not None]
    return ";".join(seen) or None
