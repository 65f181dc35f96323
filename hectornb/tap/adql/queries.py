"""The shape of a query: WITH, UNION/EXCEPT/INTERSECT, SELECT with its select list, FROM
and joins, WHERE, GROUP BY, HAVING, ORDER BY, TOP and OFFSET.

MAXREC is enforced here: the outermost query gets a LIMIT of its own (the smaller of its
TOP and the service's limit), so PostgreSQL stops early however the query was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lark import Tree

from ..tableset import TableSet, TapColumn, quote_identifier
from .parse import ADQLError, dotted_parts, identifier
from .scope import Scope
from .sql import Circle, Point, Polygon, Sql, Value, as_scalar


@dataclass
class Output:
    """What the outermost query says of its result, learnt while translating it: the service
    describes the result's columns by it (units, UCDs, DALI xtypes)."""

    columns: dict[str, TapColumn] = field(default_factory=dict)  # output name -> metadata
    xtypes: dict[str, str] = field(default_factory=dict)  # output name -> DALI xtype
    top: int | None = None  # the outermost query's TOP


class Queries:
    """The translator's queries and sub-queries (a part of `Translator`)."""

    catalog: TableSet
    ctes: dict[str, set[str]]  # the WITH names met so far
    # from the rest of the translator (values.py)
    value: Callable[[Tree, Scope], Value]
    scalar: Callable[[Tree, Scope], Sql]
    condition: Callable[[Tree, Scope], str]

    def query_expression(
        self,
        tree: Tree,
        scope: Scope | None,
        limit: int | None = None,
        output: Output | None = None,
    ) -> str:
        """A whole query or sub-query; ``output`` is given for the outermost one only."""
        with_clause, body = tree.children
        prefix = ""
        if with_clause is not None:
            items = []
            for item in with_clause.children[1:]:
                name_tok, *cols, _as, sub = item.children
                name, _ = identifier(name_tok)
                cols = [c for c in cols if c is not None]
                inner = self.query_expression(sub, scope)
                self.ctes[name] = {name}
                col_sql = (
                    "(" + ", ".join(quote_identifier(identifier(c)[0]) for c in cols) + ")"
                    if cols
                    else ""
                )
                items.append(f"{quote_identifier(name)}{col_sql} AS ({inner})")
            prefix = "WITH " + ", ".join(items) + " "
        return prefix + self.set_expression(body, scope, limit, output)

    def set_expression(
        self, tree: Tree, scope: Scope | None, limit: int | None, output: Output | None
    ) -> str:
        if tree.data == "query_specification":
            return self.query_specification(tree, scope, limit, output)
        left, _op, all_, right = tree.children
        keyword = {"union": "UNION", "except_": "EXCEPT", "intersect": "INTERSECT"}[tree.data]
        parts = []
        for side in (left, right):
            # the result's columns are named, and described, by the left-hand query
            sql = self.set_expression(side, scope, None, output if side is left else None)
            parts.append(f"({sql})")
        sql = f"{parts[0]} {keyword}{' ALL' if all_ is not None else ''} {parts[1]}"
        if limit is not None:
            sql = f"SELECT * FROM ({sql}) AS hnb_set LIMIT {int(limit)}"
        return sql

    def query_specification(
        self, tree: Tree, parent: Scope | None, limit: int | None, output: Output | None
    ) -> str:
        (
            _sel,
            quantifier,
            top,
            select_list,
            from_clause,
            where,
            group_by,
            having,
            order_by,
            offset,
        ) = tree.children
        scope = Scope(parent=parent)
        sql = ["SELECT"]
        if quantifier is not None and str(quantifier.children[0]).upper() == "DISTINCT":
            sql.append("DISTINCT")
        from_sql = self.from_clause(from_clause, scope)  # first: it says what names mean
        sql.append(self.select_list(select_list, scope, output))
        sql.append("FROM " + from_sql)
        if where is not None:
            sql.append("WHERE " + self.condition(where.children[1], scope))
        if group_by is not None:
            sql.append(
                "GROUP BY " + ", ".join(self.scalar(e, scope).text for e in group_by.children[2:])
            )
        if having is not None:
            sql.append("HAVING " + self.condition(having.children[1], scope))
        if order_by is not None:
            keys = []
            for key in order_by.children[2:]:
                expr, direction = key.children
                if isinstance(expr, Tree) and expr.data == "integer":
                    text = str(int(expr.children[0]))  # a select-list position
                else:
                    text = self.scalar(expr, scope).text
                keys.append(text + (f" {str(direction).upper()}" if direction else ""))
            sql.append("ORDER BY " + ", ".join(keys))
        top_n = int(top.children[1]) if top is not None else None
        if output is not None:
            output.top = top_n
        n = top_n
        if limit is not None:
            n = limit if n is None else min(n, limit)
        if n is not None:
            sql.append(f"LIMIT {n}")
        if offset is not None:
            sql.append(f"OFFSET {int(offset.children[1])}")
        return " ".join(sql)

    def select_list(self, tree: Tree, scope: Scope, output: Output | None) -> str:
        """The select list, each item named (``col2``, ``ra_2``, ...: PostgreSQL's own
        names would repeat, and a VOTable's fields may not)."""
        if tree.data == "select_all":
            if output is not None:
                for s in scope.sources:
                    if s.table is not None:
                        for c in s.table.columns:
                            output.columns.setdefault(c.sql_name, c)
            return "*"
        items: list[str] = []
        used: set[str] = set()
        for n, item in enumerate(tree.children, start=1):
            if item.data == "qualified_star":
                qualifier = [identifier(t) for t in dotted_parts(item.children[0])]
                source = scope.find(qualifier)
                if source is None:
                    raise ADQLError.at(f"unknown table {'.'.join(p for p, _ in qualifier)!r}", item)
                if output is not None and source.table is not None:
                    for c in source.table.columns:
                        output.columns.setdefault(c.sql_name, c)
                items.append(quote_identifier(source.alias) + ".*")
                continue
            expr, _as, alias = item.children
            value = self.value(expr, scope)
            column: TapColumn | None = None
            xtype: str | None = None
            if isinstance(value, Point | Circle | Polygon):
                # DALI geometry is double[]: integer literals too
                text, xtype = f"CAST({value.array()} AS double precision[])", value.xtype
                default = xtype
            else:
                sql = as_scalar(value, expr)
                text, default, column = sql.text, sql.name or f"col{n}", sql.column
            name = identifier(alias)[0] if alias is not None else default
            if alias is None and name in used:
                k = 2
                while f"{name}_{k}" in used:
                    k += 1
                name = f"{name}_{k}"
            used.add(name)
            scope.aliases.add(name)
            if output is not None:
                if xtype:
                    output.xtypes[name] = xtype
                elif column is not None:
                    output.columns[name] = column
            items.append(f"{text} AS {quote_identifier(name)}")
        return ", ".join(items)

    def from_clause(self, tree: Tree, scope: Scope) -> str:
        return ", ".join(self.table_reference(t, scope) for t in tree.children[1:])

    def table_reference(self, tree: Tree, scope: Scope) -> str:
        if tree.data == "table_name":
            return scope.add_table(tree, self.catalog, self.ctes)
        if tree.data == "derived_table":
            sub, _as, alias = tree.children
            inner = self.query_expression(sub, scope.parent)
            name = identifier(alias)[0]
            scope.add_unpublished(name)
            return f"({inner}) AS {quote_identifier(name)}"
        if tree.data == "cross_join":
            left, _c, _j, right = tree.children
            return (
                f"{self.table_reference(left, scope)} CROSS JOIN "
                f"{self.table_reference(right, scope)}"
            )
        if tree.data == "natural_join":
            left, _n, join_type, _j, right = tree.children
            kind = _join_type(join_type)
            return (
                f"{self.table_reference(left, scope)} NATURAL {kind}JOIN "
                f"{self.table_reference(right, scope)}"
            )
        left, join_type, _j, right, spec = tree.children
        kind = _join_type(join_type)
        sql = f"{self.table_reference(left, scope)} {kind}JOIN {self.table_reference(right, scope)}"
        if spec.data == "join_on":
            return f"{sql} ON {self.condition(spec.children[1], scope)}"
        cols = ", ".join(quote_identifier(identifier(c)[0]) for c in spec.children[1:])
        return f"{sql} USING ({cols})"


def _join_type(tree: Tree | None) -> str:
    if tree is None:
        return ""
    return " ".join(str(t).upper() for t in tree.children if t is not None) + " "
