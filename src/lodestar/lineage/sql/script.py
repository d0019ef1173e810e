"""Lineage of a whole script: each statement's reads and writes, with tables written by one
statement and read by a later one (temporary or intermediate tables) flowing through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from lodestar.lineage.sql.models import Flow, SqlLineage, StatementError
from lodestar.lineage.sql.names import Names, key
from lodestar.lineage.sql.resolve import STAR, ColumnRef, Outputs, Relation, Resolver, Scope
from lodestar.model import fqn


class _Written:
    __slots__ = ("columns", "sources")

    def __init__(self) -> None:
        self.sources: dict[str, None] = {}
        # column key -> (column name, upstream columns)
        self.columns: dict[str, tuple[str, set[ColumnRef]]] = {}


class Script:
    def __init__(
        self,
        names: Names,
        dialect: str | None,
        schema: Mapping[str, Sequence[str]] | None,
    ) -> None:
        self.names = names
        self.dialect = dialect
        self.schema = {key(t): list(cols) for t, cols in (schema or {}).items()}
        self.session: dict[str, list[str]] = {}
        self.written: dict[str, _Written] = {}
        self.hidden: set[str] = set()
        self.consumed: set[tuple[str, str]] = set()
        self.read_only: dict[str, None] = {}
        self.errors: list[StatementError] = []

    # -- schema ----------------------------------------------------------------------------

    def columns_of(self, table: str) -> Sequence[str] | None:
        k = key(table)
        if k in self.session:
            return self.session[k]
        return self.schema.get(k)

    def _resolver(self) -> Resolver:
        return Resolver(self.names, self.columns_of, self.dialect)

    # -- statements ------------------------------------------------------------------------

    def statement(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Query):
            self._query(node)
        elif isinstance(node, exp.Insert):
            self._insert(node)
        elif isinstance(node, exp.Create):
            self._create(node)
        elif isinstance(node, exp.Merge):
            self._merge(node)
        elif isinstance(node, exp.Update):
            self._update(node)
        elif isinstance(node, exp.Delete):
            self._delete(node)
        elif isinstance(node, exp.Drop):
            self._drop(node)
        elif isinstance(node, exp.Alter):
            self._alter(node)
        elif isinstance(node, exp.Copy):
            self._copy(node)
        elif isinstance(node, exp.Use):
            self._use(node)

    def _query(self, node: exp.Query) -> None:
        into = node.args.get("into")
        resolver = self._resolver()
        outputs = resolver.query(node, {}, None)
        if isinstance(into, exp.Into) and isinstance(into.this, exp.Table):
            target = self.names.table(into.this)
            self._write(target, resolver.tables, self._map(target, None, outputs))
        else:
            self._read(resolver.tables)

    def _insert(self, node: exp.Insert) -> None:
        resolver = self._resolver()
        ctes = resolver.with_ctes(node, {}, None)
        target, listed = self._target(node.this)
        query = node.expression
        outputs = resolver.query(query, ctes, None) if query is not None else []
        if target is None:
            self._read(resolver.tables)
            return
        self._write(target, resolver.tables, self._map(target, listed, outputs))

    def _create(self, node: exp.Create) -> None:
        kind = str(node.args.get("kind") or "").upper()
        if kind not in ("TABLE", "VIEW", "MATERIALIZED VIEW", "DYNAMIC TABLE"):
            return
        target, listed = self._target(node.this)
        if target is None:
            return
        query = node.expression
        resolver = self._resolver()
        if isinstance(query, exp.Query):
            ctes = resolver.with_ctes(node, {}, None)
            outputs = resolver.query(query, ctes, None)
            self._write(target, resolver.tables, self._map(target, listed, outputs))
            return
        like = None
        properties = node.args.get("properties")
        if properties is not None:
            like = next(
                (p.this for p in properties.expressions if isinstance(p, exp.LikeProperty)), None
            )
        clone = node.args.get("clone")
        if clone is not None:
            like = clone.this
        if isinstance(like, exp.Table):
            source = self.names.table(like)
            columns = self.columns_of(source)
            if columns is not None:
                self.session[key(target)] = list(columns)
            self._write(
                target,
                {source: None},
                [(c, frozenset(((source, c),))) for c in columns or ()],
            )
            return
        if listed:
            self.session[key(target)] = listed

    def _scope_with_target(
        self, resolver: Resolver, table: exp.Table, scope: Scope
    ) -> tuple[str, str]:
        """Register the written table in the scope (its reads are not sources)."""
        target = self.names.table(table)
        alias = table.alias or self.names.ident(table.this, table=True)
        k = key(alias)
        if k not in scope.sources:
            known = self.columns_of(target)
            outputs = [(c, frozenset(((target, c),))) for c in known] if known else None
            scope.sources[k] = Relation(target, outputs)
        return target, k

    def _merge(self, node: exp.Merge) -> None:
        table = node.this
        if not isinstance(table, exp.Table):
            return
        resolver = self._resolver()
        ctes = resolver.with_ctes(node, {}, None)
        scope = Scope(None)
        using = node.args.get("using")
        if using is not None:
            resolver.add_source(using, scope, ctes)
        target, _ = self._scope_with_target(resolver, table, scope)
        mapped: Outputs = []
        whens = node.args.get("whens")
        for when in whens.expressions if whens is not None else []:
            then = when.args.get("then")
            if isinstance(then, exp.Update):
                mapped.extend(self._assignments(resolver, then.expressions, scope, ctes))
            elif isinstance(then, exp.Insert):
                columns = then.this.expressions if isinstance(then.this, exp.Tuple) else []
                values = (
                    then.expression.expressions if isinstance(then.expression, exp.Tuple) else []
                )
                for column, value in zip(columns, values, strict=False):
                    name = self.names.ident(
                        column.this if isinstance(column, exp.Column) else column
                    )
                    mapped.append((name, resolver.lineage(value, scope, ctes)))
        on = node.args.get("on")
        if on is not None:
            resolver.visit_queries(on, scope, ctes)
        self._write(target, resolver.tables, self._drop_self(target, mapped))

    def _assignments(
        self,
        resolver: Resolver,
        assignments: list[exp.Expr],
        scope: Scope,
        ctes: dict[str, Relation],
    ) -> Outputs:
        mapped: Outputs = []
        for eq in assignments:
            if not isinstance(eq, exp.EQ):
                continue
            column = eq.this
            name = self.names.ident(column.this if isinstance(column, exp.Column) else column)
            mapped.append((name, resolver.lineage(eq.expression, scope, ctes)))
        return mapped

    def _update(self, node: exp.Update) -> None:
        table = node.this
        if not isinstance(table, exp.Table):
            return
        resolver = self._resolver()
        ctes = resolver.with_ctes(node, {}, None)
        scope = Scope(None)
        from_ = node.args.get("from_")
        if from_ is not None:
            resolver.add_source(from_.this, scope, ctes)
        for join in node.args.get("joins") or []:
            resolver.add_source(join.this, scope, ctes)
        bare = not table.args.get("db") and not table.alias
        aliased = scope.sources.get(key(self.names.ident(table.this))) if bare else None
        if aliased is not None and aliased.table is not None:
            target = aliased.table
            resolver.tables.pop(target, None)
        else:
            target, _ = self._scope_with_target(resolver, table, scope)
        mapped = self._assignments(resolver, node.expressions, scope, ctes)
        where = node.args.get("where")
        if where is not None:
            resolver.visit_queries(where, scope, ctes)
        self._write(target, resolver.tables, self._drop_self(target, mapped))

    def _delete(self, node: exp.Delete) -> None:
        table = node.this
        if not isinstance(table, exp.Table):
            return
        resolver = self._resolver()
        scope = Scope(None)
        for source in node.args.get("using") or []:
            resolver.add_source(source, scope, {})
        where = node.args.get("where")
        if where is not None:
            resolver.visit_queries(where, scope, {})
        if not resolver.tables:
            return
        target = self.names.table(table)
        resolver.tables.pop(target, None)
        self._write(target, resolver.tables, [])

    def _drop(self, node: exp.Drop) -> None:
        for table in node.args.get("tables") or []:
            if isinstance(table, exp.Table):
                name = self.names.table(table)
                self.session.pop(key(name), None)
                if name in self.written:
                    self.hidden.add(name)

    def _alter(self, node: exp.Alter) -> None:
        table = node.this
        if not isinstance(table, exp.Table):
            return
        name = self.names.table(table)
        for action in node.args.get("actions") or []:
            if isinstance(action, exp.AlterRename) and isinstance(action.this, exp.Table):
                new = self.names.table(action.this)
                if name in self.written and name not in self.hidden:
                    self.written[new] = self.written.pop(name)
                    if key(name) in self.session:
                        self.session[key(new)] = self.session.pop(key(name))
            elif isinstance(action, exp.SwapTable) and isinstance(action.this, exp.Table):
                other = self.names.table(action.this)
                self._write(name, {other: None}, [])

    def _copy(self, node: exp.Copy) -> None:
        table = node.this
        if not isinstance(table, exp.Table) or not node.args.get("kind"):
            return
        paths: dict[str, None] = {}
        for file in node.args.get("files") or []:
            literal = file.this if isinstance(file, exp.Table) else file
            if isinstance(literal, exp.Literal) and literal.is_string:
                paths[literal.this] = None
            elif isinstance(file, exp.Table):
                paths[self.names.table(file)] = None
        self._write(self.names.table(table), paths, [])

    def _use(self, node: exp.Use) -> None:
        table = node.this
        if not isinstance(table, exp.Table):
            return
        name = self.names.ident(table.this, table=True)
        db = self.names.ident(table.args.get("db"), table=True)
        kind = str(node.args.get("kind") or "").upper()
        if db:
            self.names.database, self.names.schema = db, name
        elif kind == "SCHEMA" or self.names.two_level:
            self.names.schema = name
        else:
            self.names.database = name

    # -- helpers ---------------------------------------------------------------------------

    def _target(self, node: exp.Expr | None) -> tuple[str | None, list[str] | None]:
        if isinstance(node, exp.Schema):
            listed = [
                self.names.ident(c.this if isinstance(c, (exp.ColumnDef, exp.Column)) else c)
                for c in node.expressions
                if isinstance(c, (exp.Identifier, exp.ColumnDef, exp.Column))
            ]
            target, _ = self._target(node.this)
            return target, listed or None
        if isinstance(node, exp.Table) and isinstance(node.this, (exp.Identifier, exp.Dot)):
            return self.names.table(node), None
        if isinstance(node, exp.Directory) and isinstance(node.this, exp.Literal):
            return str(node.this.this), None
        return None, None

    def _map(self, target: str, listed: list[str] | None, outputs: Outputs) -> Outputs:
        """Output columns onto the target's: by the listed columns, else by the target's known
        columns in order, else by the query's own names."""
        names = listed
        if names is None and not any(n == STAR for n, _ in outputs):
            names = list(self.columns_of(target) or ()) or None
            if names is not None and len(names) < len(outputs):
                names = None
        if names is None:
            mapped = outputs
        else:
            mapped = [(names[i], lineage) for i, (_, lineage) in enumerate(outputs[: len(names)])]
        if (
            listed is None
            and not any(n == STAR for n, _ in outputs)
            and key(target) not in self.session
        ):
            self.session[key(target)] = [n for n, _ in mapped]
        return mapped

    @staticmethod
    def _drop_self(target: str, mapped: Outputs) -> Outputs:
        return [
            (name, frozenset(ref for ref in lineage if ref[0] != target))
            for name, lineage in mapped
        ]

    def _roots_of_table(self, table: str) -> dict[str, None]:
        if table in self.written:
            self.hidden.add(table)
            return dict(self.written[table].sources) or {table: None}
        return {table: None}

    def _roots_of_column(self, ref: ColumnRef) -> set[ColumnRef]:
        table, column = ref
        written = self.written.get(table)
        if written is None:
            return {ref}
        found = written.columns.get(key(column))
        if found is not None:
            self.consumed.add((table, key(column)))
            return set(found[1]) or {ref}
        star = written.columns.get(STAR)
        if star is not None:
            return {(t, column if c == STAR else c) for t, c in star[1]}
        return set()

    def _read(self, tables: Mapping[str, None]) -> None:
        for table in tables:
            self.read_only.update(self._roots_of_table(table))

    def _write(self, target: str, tables: Mapping[str, None], mapped: Outputs) -> None:
        roots: dict[str, None] = {}
        for table in tables:
            roots.update(self._roots_of_table(table) if table != target else {table: None})
        columns: list[tuple[str, set[ColumnRef]]] = []
        for name, lineage in mapped:
            upstream: set[ColumnRef] = set()
            for ref in lineage:
                upstream |= self._roots_of_column(ref) if ref[0] != target else {ref}
            columns.append((name, upstream))
        written = self.written.get(target)
        if written is None or target in self.hidden:
            written = self.written[target] = _Written()
            self.hidden.discard(target)
        written.sources.update(roots)
        for name, upstream in columns:
            k = key(name)
            if k in written.columns:
                written.columns[k][1].update(upstream)
            else:
                written.columns[k] = (name, upstream)

    def result(self) -> SqlLineage:
        targets = [t for t in self.written if t not in self.hidden]
        sources: dict[str, None] = {}
        for target in targets:
            sources.update(self.written[target].sources)
        sources.update(self.read_only)
        pairs: list[tuple[str, str]] = []
        flows: list[Flow] = []
        for target in targets:
            written = self.written[target]
            per_source: dict[str, list[tuple[str, str]]] = {s: [] for s in written.sources}
            for k, (name, upstream) in written.columns.items():
                if (target, k) in self.consumed:
                    continue
                for table, column in sorted(upstream):
                    pairs.append((_column(table, column), _column(target, name)))
                    per_source.setdefault(table, []).append((column, name))
            flows.extend(Flow(s, target, tuple(cols)) for s, cols in per_source.items())
        return SqlLineage(
            sources=list(sources),
            targets=targets,
            columns=list(dict.fromkeys(pairs)),
            flows=flows,
            errors=list(self.errors),
        )


def _column(table: str, column: str) -> str:
    if column == STAR:
        return f"{table}.*"
    try:
        return f"{table}.{fqn.quote(column)}"
    except fqn.FQNError:
        return f"{table}.{column}"
