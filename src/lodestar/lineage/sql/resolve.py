"""Column resolution over one parsed statement: which base-table columns feed each output
column of a query. One walk over the tree with scopes (FROM sources, CTEs, outer queries for
correlated references); no optimizer pass, so it stays close to the cost of parsing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

from lodestar.lineage.sql.names import Names, key

ColumnRef = tuple[str, str]
Lineage = frozenset[ColumnRef]
Outputs = list[tuple[str, Lineage]]
ColumnsOf = Callable[[str], Sequence[str] | None]

EMPTY: Lineage = frozenset()
STAR = "*"


class Relation:
    """A source in a FROM clause: a base table (columns known or not), a derived table or CTE
    (its output columns), or a table function (everything it yields comes from its args)."""

    __slots__ = ("_index", "fallback", "outputs", "table")

    def __init__(
        self, table: str | None, outputs: Outputs | None, fallback: Lineage = EMPTY
    ) -> None:
        self.table = table
        self.outputs = outputs
        self.fallback = fallback
        self._index: dict[str, Lineage] | None = None

    def _columns(self) -> dict[str, Lineage]:
        if self._index is None:
            index: dict[str, Lineage] = {}
            for name, lineage in self.outputs or ():
                k = key(name)
                index[k] = index[k] | lineage if k in index else lineage
            self._index = index
        return self._index

    def has(self, k: str) -> bool:
        return self.outputs is not None and k in self._columns()

    def open(self) -> bool:
        """Whether it may hold columns nobody listed (a base table of unknown schema)."""
        if self.outputs is None:
            return self.table is not None or bool(self.fallback)
        return STAR in self._columns()

    def column(self, name: str) -> Lineage:
        if self.outputs is not None:
            index = self._columns()
            found = index.get(key(name))
            if found is not None:
                return found
            star = index.get(STAR)
            if star:
                return frozenset((t, name) for t, c in star if c == STAR)
        if self.table is not None:
            return frozenset(((self.table, name),))
        return self.fallback

    def star(self) -> Outputs:
        if self.outputs is not None:
            return list(self.outputs)
        if self.table is not None:
            return [(STAR, frozenset(((self.table, STAR),)))]
        return []


class Scope:
    __slots__ = ("aliases", "parent", "sources")

    def __init__(self, parent: Scope | None) -> None:
        self.parent = parent
        self.sources: dict[str, Relation] = {}
        self.aliases: dict[str, Lineage] = {}


class Resolver:
    """Resolves the queries of one statement; `tables` collects every base table read."""

    def __init__(self, names: Names, columns_of: ColumnsOf, dialect: str | None) -> None:
        self.names = names
        self.columns_of = columns_of
        self.dialect = dialect
        self.tables: dict[str, None] = {}

    # -- queries -------------------------------------------------------------------------

    def query(self, node: exp.Expr, ctes: dict[str, Relation], parent: Scope | None) -> Outputs:
        if isinstance(node, exp.Select):
            return self.select(node, ctes, parent)
        if isinstance(node, exp.SetOperation):
            ctes = self.with_ctes(node, ctes, parent)
            left = self.query(node.left, ctes, parent)
            right = self.query(node.right, ctes, parent)
            merged: Outputs = []
            for i in range(max(len(left), len(right))):
                if i < len(left):
                    name, lineage = left[i]
                    if i < len(right):
                        lineage = lineage | right[i][1]
                else:
                    name, lineage = right[i]
                merged.append((name, lineage))
            return merged
        if isinstance(node, (exp.Subquery, exp.Paren)):
            ctes = self.with_ctes(node, ctes, parent)
            return self.query(node.this, ctes, parent)
        if isinstance(node, exp.Table):
            scope = Scope(parent)
            self.add_source(node, scope, ctes)
            return [o for rel in scope.sources.values() for o in rel.star()]
        self.lineage(node, Scope(parent), ctes)
        return []

    def with_ctes(
        self, node: exp.Expr, ctes: dict[str, Relation], parent: Scope | None
    ) -> dict[str, Relation]:
        with_ = node.args.get("with_")
        if not with_:
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            name = key(self.names.ident(cte.args["alias"].this))
            if with_.args.get("recursive"):
                ctes[name] = Relation(None, None)
            outputs = self.query(cte.this, ctes, parent)
            ctes[name] = Relation(None, self.renamed(outputs, cte.args["alias"]))
        return ctes

    def renamed(self, outputs: Outputs, alias: exp.Expr | None) -> Outputs:
        columns = alias.args.get("columns") if isinstance(alias, exp.TableAlias) else None
        if not columns:
            return outputs
        names = [self.names.ident(c.this if isinstance(c, exp.ColumnDef) else c) for c in columns]
        return [
            (names[i] if i < len(names) else name, lineage)
            for i, (name, lineage) in enumerate(outputs)
        ]

    def select(self, node: exp.Select, ctes: dict[str, Relation], parent: Scope | None) -> Outputs:
        ctes = self.with_ctes(node, ctes, parent)
        scope = Scope(parent)
        from_ = node.args.get("from_")
        if from_ is not None:
            self.add_source(from_.this, scope, ctes)
        joins = node.args.get("joins") or []
        for join in joins:
            self.add_source(join.this, scope, ctes)
        for lateral in node.args.get("laterals") or []:
            self.add_source(lateral, scope, ctes)
        outputs: Outputs = []
        for projection in node.expressions:
            if isinstance(projection, exp.Star):
                outputs.extend(self.star(scope, None))
                continue
            if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                outputs.extend(self.star(scope, projection))
                continue
            name = self.output_name(projection)
            lineage = self.lineage(projection, scope, ctes)
            outputs.append((name, lineage))
            scope.aliases.setdefault(key(name), lineage)
        for arg in ("where", "having", "qualify", "group", "order"):
            clause = node.args.get(arg)
            if clause is not None:
                self.visit_queries(clause, scope, ctes)
        for join in joins:
            on = join.args.get("on")
            if on is not None:
                self.visit_queries(on, scope, ctes)
        return outputs

    def output_name(self, projection: exp.Expr) -> str:
        if isinstance(projection, exp.Alias):
            return self.names.ident(projection.args["alias"])
        if isinstance(projection, exp.Column):
            return self.names.ident(projection.this)
        return projection.sql(dialect=self.dialect)

    def star(self, scope: Scope, qualified: exp.Column | None) -> Outputs:
        if qualified is None:
            return [o for rel in scope.sources.values() for o in rel.star()]
        rel = self.find(scope, qualified)
        return rel.star() if rel is not None else []

    # -- FROM sources --------------------------------------------------------------------

    def add_source(self, src: exp.Expr, scope: Scope, ctes: dict[str, Relation]) -> None:
        alias = src.args.get("alias")
        alias_name = self.names.ident(alias.this) if isinstance(alias, exp.TableAlias) else ""
        rel: Relation
        if isinstance(src, exp.Table):
            this = src.this
            if isinstance(this, (exp.Identifier, exp.Dot)):
                bare = not src.args.get("db") and not src.args.get("catalog")
                cte = ctes.get(key(self.names.ident(this))) if bare else None
                if cte is not None:
                    rel = Relation(None, cte.outputs, cte.fallback)
                else:
                    table = self.names.table(src)
                    self.tables[table] = None
                    known = self.columns_of(table)
                    outputs = [(c, frozenset(((table, c),))) for c in known] if known else None
                    rel = Relation(table, outputs)
                name = alias_name or self.names.ident(this, table=True)
            else:
                rel = Relation(None, None, self.lineage(this, scope, ctes))
                name = alias_name or src.alias_or_name
            for join in src.args.get("joins") or []:
                self.add_source(join.this, scope, ctes)
        elif isinstance(src, exp.Subquery) and not isinstance(src.this, exp.Query):
            self.add_source(src.this, scope, ctes)
            for join in src.args.get("joins") or []:
                self.add_source(join.this, scope, ctes)
            if not alias_name:
                return
            rel = Relation(None, [o for r in scope.sources.values() for o in r.star()])
            name = alias_name
        elif isinstance(src, (exp.Subquery, exp.Paren)):
            rel = Relation(None, self.query(src, ctes, scope))
            for join in src.args.get("joins") or []:
                self.add_source(join.this, scope, ctes)
            name = alias_name
        elif isinstance(src, exp.Lateral):
            inner = src.this
            if isinstance(inner, (exp.Subquery, exp.Query)):
                rel = Relation(None, self.query(inner, ctes, scope))
            else:
                rel = Relation(None, None, self.lineage(inner, scope, ctes))
            name = alias_name
        elif isinstance(src, exp.Query):
            rel = Relation(None, self.query(src, ctes, scope))
            name = alias_name
        else:
            lineage = self.lineage(src, scope, ctes)
            rel = Relation(None, None, lineage)
            name = alias_name
            unnest_column = (
                isinstance(src, exp.Unnest)
                and isinstance(alias, exp.TableAlias)
                and not alias.args.get("columns")
                and alias_name
            )
            if unnest_column:
                # BigQuery's `UNNEST(arr) AS x` names a column, not a table.
                scope.aliases.setdefault(key(alias_name), lineage)
        if isinstance(alias, exp.TableAlias) and alias.args.get("columns"):
            if rel.outputs is None:
                names = [self.names.ident(c) for c in alias.args["columns"]]
                rel = Relation(rel.table, [(n, rel.column(n)) for n in names], rel.fallback)
            else:
                rel = Relation(rel.table, self.renamed(rel.outputs, alias), rel.fallback)
        scope.sources[key(name) if name else f"#{len(scope.sources)}"] = rel

    # -- expressions ---------------------------------------------------------------------

    def visit_queries(self, node: exp.Expr, scope: Scope, ctes: dict[str, Relation]) -> None:
        """Read the subqueries of a clause for the tables they name (lineage not kept)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, exp.Query):
                self.query(n, ctes, scope)
                continue
            stack.extend(n.iter_expressions())

    def lineage(self, node: exp.Expr, scope: Scope, ctes: dict[str, Relation]) -> Lineage:
        found: set[ColumnRef] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, exp.Column):
                if isinstance(n.this, exp.Star):
                    for _, lineage in self.star(scope, n):
                        found |= lineage
                else:
                    found |= self.column(n, scope)
                continue
            if isinstance(n, exp.Query):
                for _, lineage in self.query(n, ctes, scope):
                    found |= lineage
                continue
            if isinstance(n, exp.Star):
                if len(scope.sources) == 1:
                    only = next(iter(scope.sources.values()))
                    if only.table is not None:
                        found.add((only.table, STAR))
                continue
            stack.extend(n.iter_expressions())
        return frozenset(found)

    def find(self, scope: Scope | None, column: exp.Column) -> Relation | None:
        qualifier = key(self.names.ident(column.args.get("table")))
        while scope is not None:
            rel = scope.sources.get(qualifier)
            if rel is not None:
                return rel
            scope = scope.parent
        return None

    def column(self, column: exp.Column, scope: Scope) -> Lineage:
        name = self.names.ident(column.this)
        if column.args.get("table") is not None:
            rel = self.find(scope, column)
            if rel is not None:
                return rel.column(name)
            # `a.b` where `a` names no source: a struct field of column `a`.
            return self.unqualified(self.names.ident(column.args["table"]), scope)
        return self.unqualified(name, scope)

    def unqualified(self, name: str, scope: Scope | None) -> Lineage:
        k = key(name)
        while scope is not None:
            sources = scope.sources
            if sources:
                known = [rel for rel in sources.values() if rel.has(k)]
                if known:
                    if len(known) == 1:
                        return known[0].column(name)
                    return frozenset().union(*(rel.column(name) for rel in known))
                if k in scope.aliases:
                    return scope.aliases[k]
                open_ = [rel for rel in sources.values() if rel.open()]
                if len(open_) == 1:
                    return open_[0].column(name)
                if open_:
                    return EMPTY
            elif k in scope.aliases:
                return scope.aliases[k]
            scope = scope.parent
        return EMPTY
