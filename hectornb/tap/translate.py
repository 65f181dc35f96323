"""ADQL 2.1 → PostgreSQL, through a real grammar (``adql.lark``).

The SQL is written from the parse tree, never from the query text: identifiers are quoted,
string literals are quoted by psycopg (`psycopg.sql.Literal`; inline rather than bound, so
that equal expressions in SELECT and GROUP BY stay equal for PostgreSQL), numbers are
re-written from their parsed values,
functions come from a fixed table, and a table may be read only if the `Catalog` publishes
it. Geometry (POINT, CIRCLE, BOX, POLYGON, CONTAINS, INTERSECTS, DISTANCE, …) is translated
here onto plain columns and the functions of migration ``0006_tap`` (schema ``hnb_adql``):
a cone adds a declination band and an RA window that a b-tree on (dec, ra) can use.

>>> t = translate("SELECT TOP 3 ra FROM demo.stars WHERE mag < 5", catalog)  # doctest: +SKIP
>>> t.sql
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from psycopg.sql import Literal as sql_literal

from ..errors import Invalid
from . import geometry
from .catalog import Catalog, TapColumn, TapTable, quote_identifier

FN = "hnb_adql"  # schema of the translator's SQL functions


class ADQLError(Invalid):
    """A query that cannot run, with where in the ADQL text the problem is (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message, self.line, self.column = message, line, column
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(message + where)


@cache
def parser() -> Lark:
    grammar = resources.files(__package__).joinpath("adql.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(adql: str) -> Tree:
    """The parse tree of an ADQL query, or an `ADQLError` at the offending place."""
    try:
        return parser().parse(adql)
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ADQLError("the query ends too early", exc.line, exc.column) from None
        raise ADQLError(f"syntax error at {str(tok)!r}", tok.line, tok.column) from None
    except UnexpectedCharacters as exc:
        raise ADQLError(
            f"syntax error at {adql[exc.pos_in_stream]!r}", exc.line, exc.column
        ) from None
    except (UnexpectedEOF, UnexpectedInput) as exc:
        raise ADQLError("syntax error", getattr(exc, "line", None), None) from None


# ---- values the translator passes around ---------------------------------------------------


@dataclass
class Sql:
    """A scalar SQL expression; ``value`` is its number when it is a constant."""

    text: str
    value: float | None = None
    column: TapColumn | None = None  # when it is a plain column of a published table
    name: str | None = None  # the name a select item gets by default


@dataclass
class Point:
    ra: Sql
    dec: Sql


@dataclass
class Circle:
    centre: Point
    radius: Sql


@dataclass
class Polygon:
    vertices: list[Point]

    def constant(self) -> list[tuple[float, float]] | None:
        out = [(v.ra.value, v.dec.value) for v in self.vertices]
        return None if any(a is None or b is None for a, b in out) else out  # type: ignore

    def array(self) -> str:
        return "ARRAY[" + ", ".join(f"{v.ra.text}, {v.dec.text}" for v in self.vertices) + "]"


@dataclass
class Predicate:
    """A geometric condition (CONTAINS, INTERSECTS): SQL boolean, ADQL integer 0/1."""

    text: str


@dataclass
class Distance:
    a: Point
    b: Point

    def sql(self) -> Sql:
        return Sql(f"{FN}.distance({self.a.ra.text}, {self.a.dec.text}, "
                   f"{self.b.ra.text}, {self.b.dec.text})", name="distance")  # fmt: skip


@dataclass
class Translation:
    """The SQL of one ADQL query and what is known of its output columns."""

    sql: str
    columns: dict[str, TapColumn] = field(default_factory=dict)  # output name -> metadata
    xtypes: dict[str, str] = field(default_factory=dict)  # output name -> DALI xtype
    top: int | None = None  # the outermost query's TOP
    tables: list[str] = field(default_factory=list)  # published tables read


@dataclass
class _Source:
    alias: str  # the SQL alias (unquoted)
    names: set[str]  # names a column qualifier may use for it (lower case)
    table: TapTable | None  # None for derived tables and WITH names


@dataclass
class _Scope:
    sources: list[_Source] = field(default_factory=list)
    parent: _Scope | None = None
    aliases: set[str] = field(default_factory=set)  # select-list names (for ORDER BY)

    def find(self, qualifier: list[tuple[str, bool]]) -> _Source | None:
        text = ".".join(p for p, _ in qualifier)
        delimited = any(d for _, d in qualifier)
        key = text if delimited else text.lower()
        scope: _Scope | None = self
        while scope is not None:
            for s in scope.sources:
                if key in s.names or text in s.names:
                    return s
            scope = scope.parent
        return None


_CASTS = {
    "integer": "integer", "int": "integer", "smallint": "smallint", "bigint": "bigint",
    "real": "real", "double precision": "double precision", "char": "char",
    "varchar": "varchar", "character": "char", "character varying": "varchar",
    "timestamp": "timestamp",
}  # fmt: skip

# ADQL name -> (PostgreSQL template, argument counts)
_FUNCTIONS: dict[str, tuple[str, tuple[int, ...]]] = {
    "abs": ("abs({0})", (1,)), "ceiling": ("ceiling({0})", (1,)),
    "degrees": ("degrees({0})", (1,)), "exp": ("exp({0})", (1,)),
    "floor": ("floor({0})", (1,)), "log": ("ln({0})", (1,)), "log10": ("log({0})", (1,)),
    "mod": ("mod({0}, {1})", (2,)), "pi": ("pi()", (0,)), "power": ("power({0}, {1})", (2,)),
    "radians": ("radians({0})", (1,)), "sqrt": ("sqrt({0})", (1,)),
    "rand": ("random()", (0,)), "sin": ("sin({0})", (1,)), "cos": ("cos({0})", (1,)),
    "tan": ("tan({0})", (1,)), "cot": ("cot({0})", (1,)), "asin": ("asin({0})", (1,)),
    "acos": ("acos({0})", (1,)), "atan": ("atan({0})", (1,)),
    "atan2": ("atan2({0}, {1})", (2,)), "lower": ("lower({0})", (1,)),
    "upper": ("upper({0})", (1,)),
    "round": ("round(CAST({0} AS numeric), {1})::double precision", (1, 2)),
    "truncate": ("trunc(CAST({0} AS numeric), {1})::double precision", (1, 2)),
}  # fmt: skip
_AGGREGATES = {"count", "sum", "avg", "min", "max"}
_VARIADIC = {"coalesce": "coalesce", "greatest": "greatest", "least": "least"}
_GEOMETRY = {"point", "circle", "box", "polygon", "contains", "intersects", "distance",
             "coord1", "coord2", "coordsys", "area", "centroid", "region"}  # fmt: skip


def _pos(node) -> tuple[int | None, int | None]:
    if isinstance(node, Token):
        return node.line, node.column
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    return None, None


def _ident(tok: Token) -> tuple[str, bool]:
    """(name, delimited) of an identifier token; regular identifiers fold to lower case."""
    text = str(tok)
    if tok.type == "DELIMITED_IDENTIFIER":
        return text[1:-1].replace('""', '"'), True
    return text.lower(), False


def _dotted(tree: Tree) -> list[Token]:
    out: list[Token] = []
    node = tree
    while isinstance(node, Tree) and node.data == "dotted":
        *rest, last = node.children
        out.insert(0, last)
        node = rest[0] if rest else None
    if isinstance(node, Token):
        out.insert(0, node)
    return out


def _literal(text: str) -> str:
    return sql_literal(text).as_string(None)


def _number(text: str) -> str:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return repr(value)


class _Translator:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.ctes: dict[str, set[str]] = {}

    def error(self, message: str, node) -> ADQLError:
        return ADQLError(message, *_pos(node))

    # ---- queries -----------------------------------------------------------------------

    def query_expression(self, tree: Tree, scope: _Scope | None, limit: int | None = None,
                         outer: dict | None = None) -> str:  # fmt: skip
        with_clause, body = tree.children
        prefix = ""
        if with_clause is not None:
            items = []
            for item in with_clause.children[1:]:
                name_tok, *cols, _as, sub = item.children
                name, _ = _ident(name_tok)
                cols = [c for c in cols if c is not None]
                inner = self.query_expression(sub, scope)
                self.ctes[name] = {name}
                col_sql = ("(" + ", ".join(quote_identifier(_ident(c)[0]) for c in cols) + ")"
                           if cols else "")  # fmt: skip
                items.append(f"{quote_identifier(name)}{col_sql} AS ({inner})")
            prefix = "WITH " + ", ".join(items) + " "
        return prefix + self.set_expression(body, scope, limit, outer)

    def set_expression(self, tree: Tree, scope, limit, outer) -> str:
        if tree.data == "query_specification":
            return self.query_specification(tree, scope, limit, outer)
        left, _op, all_, right = tree.children
        keyword = {"union": "UNION", "except_": "EXCEPT", "intersect": "INTERSECT"}[tree.data]
        parts = []
        for side in (left, right):
            sql = self.set_expression(side, scope, None, outer if side is left else None)
            parts.append(f"({sql})")
        sql = f"{parts[0]} {keyword}{' ALL' if all_ is not None else ''} {parts[1]}"
        if limit is not None:
            sql = f"SELECT * FROM ({sql}) AS hnb_set LIMIT {int(limit)}"
        return sql

    def query_specification(self, tree: Tree, parent: _Scope | None, limit: int | None,
                            outer: dict | None) -> str:  # fmt: skip
        (_sel, quantifier, top, select_list, from_clause, where, group_by, having,
         order_by, offset) = tree.children  # fmt: skip
        scope = _Scope(parent=parent)
        sql = ["SELECT"]
        if quantifier is not None and str(quantifier.children[0]).upper() == "DISTINCT":
            sql.append("DISTINCT")
        from_sql = self.from_clause(from_clause, scope)
        sql.append(self.select_list(select_list, scope, outer))
        sql.append("FROM " + from_sql)
        if where is not None:
            sql.append("WHERE " + self.condition(where.children[1], scope))
        if group_by is not None:
            sql.append("GROUP BY " + ", ".join(self.scalar(e, scope).text
                                                for e in group_by.children[2:]))  # fmt: skip
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
        if outer is not None:
            outer["top"] = top_n
        n = top_n
        if limit is not None:
            n = limit if n is None else min(n, limit)
        if n is not None:
            sql.append(f"LIMIT {n}")
        if offset is not None:
            sql.append(f"OFFSET {int(offset.children[1])}")
        return " ".join(sql)

    def select_list(self, tree: Tree, scope: _Scope, outer: dict | None) -> str:
        if tree.data == "select_all":
            if outer is not None:
                for s in scope.sources:
                    if s.table is not None:
                        for c in s.table.columns:
                            outer["columns"].setdefault(c.sql_name, c)
            return "*"
        items, used = [], set()
        for n, item in enumerate(tree.children, start=1):
            if item.data == "qualified_star":
                qualifier = [_ident(t) for t in _dotted(item.children[0])]
                source = scope.find(qualifier)
                if source is None:
                    raise self.error(f"unknown table {'.'.join(p for p, _ in qualifier)!r}",
                                     item)  # fmt: skip
                if outer is not None and source.table is not None:
                    for c in source.table.columns:
                        outer["columns"].setdefault(c.sql_name, c)
                items.append(quote_identifier(source.alias) + ".*")
                continue
            expr, _as, alias = item.children
            value = self.value(expr, scope)
            xtype = None
            if isinstance(value, Point):
                text, xtype, default = f"ARRAY[{value.ra.text}, {value.dec.text}]", "point", "point"
            elif isinstance(value, Circle):
                text = (f"ARRAY[{value.centre.ra.text}, {value.centre.dec.text}, "
                        f"{value.radius.text}]")  # fmt: skip
                xtype, default = "circle", "circle"
            elif isinstance(value, Polygon):
                text, xtype, default = value.array(), "polygon", "polygon"
            if xtype:  # DALI geometry is double[]: integer literals too
                text = f"CAST({text} AS double precision[])"
            else:
                sql = self.as_scalar(value, expr)
                text, default = sql.text, sql.name or f"col{n}"
                column = sql.column
            name = _ident(alias)[0] if alias is not None else default
            if alias is None and name in used:
                k = 2
                while f"{name}_{k}" in used:
                    k += 1
                name = f"{name}_{k}"
            used.add(name)
            scope.aliases.add(name)
            if outer is not None:
                if xtype:
                    outer["xtypes"][name] = xtype
                elif column is not None:
                    outer["columns"][name] = column
            items.append(f"{text} AS {quote_identifier(name)}")
        return ", ".join(items)

    def from_clause(self, tree: Tree, scope: _Scope) -> str:
        return ", ".join(self.table_reference(t, scope) for t in tree.children[1:])

    def table_reference(self, tree: Tree, scope: _Scope) -> str:
        if tree.data == "table_name":
            return self.table_name(tree, scope)
        if tree.data == "derived_table":
            sub, _as, alias = tree.children
            inner = self.query_expression(sub, scope.parent)
            name = _ident(alias)[0]
            scope.sources.append(_Source(name, {name}, None))
            return f"({inner}) AS {quote_identifier(name)}"
        if tree.data == "cross_join":
            left, _c, _j, right = tree.children
            return (f"{self.table_reference(left, scope)} CROSS JOIN "
                    f"{self.table_reference(right, scope)}")  # fmt: skip
        if tree.data == "natural_join":
            left, _n, join_type, _j, right = tree.children
            kind = self.join_type(join_type)
            return (f"{self.table_reference(left, scope)} NATURAL {kind}JOIN "
                    f"{self.table_reference(right, scope)}")  # fmt: skip
        left, join_type, _j, right, spec = tree.children
        kind = self.join_type(join_type)
        sql = f"{self.table_reference(left, scope)} {kind}JOIN {self.table_reference(right, scope)}"
        if spec.data == "join_on":
            return f"{sql} ON {self.condition(spec.children[1], scope)}"
        cols = ", ".join(quote_identifier(_ident(c)[0]) for c in spec.children[1:])
        return f"{sql} USING ({cols})"

    @staticmethod
    def join_type(tree: Tree | None) -> str:
        if tree is None:
            return ""
        return " ".join(str(t).upper() for t in tree.children if t is not None) + " "

    def table_name(self, tree: Tree, scope: _Scope) -> str:
        dotted, _as, alias = tree.children
        tokens = _dotted(dotted)
        parts = [_ident(t) for t in tokens]
        if len(parts) == 1 and parts[0][0] in self.ctes:
            name = parts[0][0]
            alias_name = _ident(alias)[0] if alias is not None else name
            scope.sources.append(_Source(alias_name, {alias_name}, None))
            return quote_identifier(name) + (
                f" AS {quote_identifier(alias_name)}" if alias is not None else "")
        table = self.catalog.find(parts)
        if table is None:
            shown = ".".join(p for p, _ in parts)
            raise self.error(f"unknown table {shown!r}: see the service's /tables", tokens[0])
        if alias is not None:
            alias_name = _ident(alias)[0]
            names = {alias_name}
        else:
            short = table.name.split(".")[-1]
            alias_name = table.pg_table if table.pg_schema != "pg_temp" else short
            names = {table.name, table.name.lower(), short, short.lower()}
        scope.sources.append(_Source(alias_name, names, table))
        return f"{table.sql} AS {quote_identifier(alias_name)}"

    # ---- expressions -------------------------------------------------------------------

    def condition(self, tree, scope: _Scope) -> str:
        """SQL for a place that needs a condition (WHERE, ON, HAVING, CASE WHEN)."""
        value = self.value(tree, scope)
        if isinstance(value, Predicate):
            return value.text
        if isinstance(value, Sql):
            return value.text
        raise self.error("a geometry is not a condition: compare it, e.g. 1=CONTAINS(…)", tree)

    def scalar(self, tree, scope: _Scope) -> Sql:
        return self.as_scalar(self.value(tree, scope), tree)

    def as_scalar(self, value, node) -> Sql:
        if isinstance(value, Sql):
            return value
        if isinstance(value, Predicate):
            return Sql(f"({value.text})::integer")
        if isinstance(value, Distance):
            return value.sql()
        kind = type(value).__name__.upper()
        raise self.error(f"a {kind} cannot be used as a number or string here", node)

    def value(self, tree, scope: _Scope):
        if isinstance(tree, Token):
            raise self.error(f"unexpected {str(tree)!r}", tree)
        kind = tree.data
        ch = tree.children
        if kind == "integer":
            return Sql(str(int(ch[0])), value=float(int(ch[0])))
        if kind == "decimal":
            text = _number(str(ch[0]))
            return Sql(text, value=float(text))
        if kind == "hex_integer":
            v = int(str(ch[0]), 16)
            return Sql(str(v), value=float(v))
        if kind == "string":
            return Sql(_literal(str(ch[0])[1:-1].replace("''", "'")))
        if kind == "null":
            return Sql("NULL")
        if kind == "negative":
            inner = self.scalar(ch[1], scope)
            return Sql(f"(-{inner.text})", value=None if inner.value is None else -inner.value)
        if kind == "unary":  # "+x"
            return self.value(ch[1], scope)
        if kind == "column_reference":
            return self.column_reference(ch[0], scope)
        if kind == "arithmetic":
            a, op, b = ch
            left, right = self.scalar(a, scope), self.scalar(b, scope)
            value = None
            if left.value is not None and right.value is not None:
                try:
                    x, y = left.value, right.value
                    value = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
                             "/": lambda: x / y}[str(op)]()  # fmt: skip
                except (OverflowError, ZeroDivisionError):
                    value = None
            return Sql(f"({left.text} {op} {right.text})", value=value)
        if kind == "concatenation":
            return Sql(f"({self.scalar(ch[0], scope).text} || {self.scalar(ch[1], scope).text})")
        if kind == "comparison":
            return self.comparison(tree, scope)
        if kind == "and_":
            return Sql(f"({self.condition(ch[0], scope)} AND {self.condition(ch[2], scope)})")
        if kind == "or_":
            return Sql(f"({self.condition(ch[0], scope)} OR {self.condition(ch[2], scope)})")
        if kind == "not_":
            return Sql(f"(NOT {self.condition(ch[1], scope)})")
        if kind == "between":
            x, neg, _b, lo, _and, hi = ch
            low, high = self.scalar(lo, scope).text, self.scalar(hi, scope).text
            return Sql(f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}BETWEEN "
                       f"{low} AND {high})")  # fmt: skip
        if kind == "in_list":
            x, neg, _in, *items = ch
            values = ", ".join(self.scalar(i, scope).text for i in items)
            return Sql(f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}IN ({values}))")
        if kind == "in_query":
            x, neg, _in, sub = ch
            inner = self.query_expression(sub, scope)
            return Sql(f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}IN ({inner}))")
        if kind in ("like", "ilike"):
            x, neg, _op, pattern = ch
            op = "LIKE" if kind == "like" else "ILIKE"
            # ADQL's LIKE has no escape character; PostgreSQL's default one is \\
            return Sql(f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}{op} "
                       f"{self.scalar(pattern, scope).text} ESCAPE '')")  # fmt: skip
        if kind == "is_null":
            x, _is, neg, _null = ch
            return Sql(f"({self.scalar(x, scope).text} IS {'NOT ' if neg else ''}NULL)")
        if kind == "exists":
            return Sql(f"(EXISTS ({self.query_expression(ch[1], scope)}))")
        if kind == "scalar_subquery":
            return Sql(f"({self.query_expression(ch[0], scope)})")
        if kind == "case":
            _case, subject, *rest = ch
            whens = [w for w in rest if isinstance(w, Tree) and w.data == "when"]
            default = rest[-2]  # [ELSE expression] END: None when there is no ELSE
            parts = ["CASE"]
            if subject is not None:
                parts.append(self.scalar(subject, scope).text)
            for w in whens:
                _w, cond, _t, result = w.children
                test = (self.scalar(cond, scope).text if subject is not None
                        else self.condition(cond, scope))  # fmt: skip
                parts.append(f"WHEN {test} THEN {self.scalar(result, scope).text}")
            if default is not None:
                parts.append(f"ELSE {self.scalar(default, scope).text}")
            parts.append("END")
            return Sql("(" + " ".join(parts) + ")")
        if kind == "cast":
            _cast, expr, _as, type_name = ch
            return Sql(f"CAST({self.scalar(expr, scope).text} AS {self.cast_type(type_name)})")
        if kind == "count_star":
            name, _star = ch
            if _ident(name)[0] != "count":
                raise self.error(f"{name}(*) is not a function: only COUNT(*)", name)
            return Sql("COUNT(*)", name="count")
        if kind == "function_call":
            return self.function_call(tree, scope)
        raise self.error(f"{kind} is not supported", tree)

    def cast_type(self, tree: Tree) -> str:
        *words, length = tree.children
        name = " ".join(_ident(w)[0] for w in words)
        if name not in _CASTS:
            raise self.error(f"CAST to {name.upper()} is not supported", tree)
        pg = _CASTS[name]
        if length is not None:
            if pg not in ("char", "varchar"):
                raise self.error(f"{name.upper()} takes no length", tree)
            pg += f"({int(length)})"
        return pg

    def column_reference(self, dotted: Tree, scope: _Scope) -> Sql:
        tokens = _dotted(dotted)
        parts = [_ident(t) for t in tokens]
        column_name, _ = parts[-1]
        qualifier = parts[:-1]
        if qualifier:
            source = scope.find(qualifier)
            if source is None:
                shown = ".".join(p for p, _ in qualifier)
                raise self.error(f"unknown table {shown!r} in column {tokens[-1]!s}", tokens[0])
            meta = source.table.column(column_name) if source.table is not None else None
            if source.table is not None and meta is None:
                raise self.error(f"{source.table.name} has no column {column_name!r}", tokens[-1])
            name = meta.sql_name if meta is not None else column_name
            return Sql(f"{quote_identifier(source.alias)}.{quote_identifier(name)}",
                       column=meta, name=name)  # fmt: skip
        meta = None
        found = False
        s: _Scope | None = scope
        while s is not None and not found:
            for source in s.sources:
                if source.table is None:
                    found = True  # a derived table may have it: PostgreSQL decides
                    continue
                c = source.table.column(column_name)
                if c is not None:
                    meta, found = meta or c, True
            s = s.parent
        if not found and column_name in scope.aliases:
            return Sql(quote_identifier(column_name), name=column_name)
        if not found and scope.sources:
            raise self.error(f"unknown column {column_name!r}", tokens[-1])
        name = meta.sql_name if meta is not None else column_name
        return Sql(quote_identifier(name), column=meta, name=name)

    def comparison(self, tree: Tree, scope: _Scope) -> Sql | Predicate:
        a, op, b = tree.children
        op = str(op)
        left, right = self.value(a, scope), self.value(b, scope)
        # 1 = CONTAINS(...) and friends: the predicate itself, so its index help stays
        for pred, other in ((left, right), (right, left)):
            if (isinstance(pred, Predicate) and isinstance(other, Sql) and other.value in (0, 1)
                    and op in ("=", "<>", "!=")):
                truth = (other.value == 1) == (op == "=")
                return Predicate(pred.text if truth else f"NOT ({pred.text})")
        # DISTANCE(...) < r: a declination band (and an RA window) before the exact test
        if isinstance(left, Distance) and op in ("<", "<="):
            radius = self.as_scalar(right, b)
            return Predicate(self.cone(left.a, left.b, radius, op))
        if isinstance(right, Distance) and op in (">", ">="):
            radius = self.as_scalar(left, a)
            return Predicate(self.cone(right.a, right.b, radius, "<" if op == ">" else "<="))
        op = "<>" if op == "!=" else op
        return Sql(f"({self.as_scalar(left, a).text} {op} {self.as_scalar(right, b).text})")

    def cone(self, p: Point, centre: Point, radius: Sql, op: str = "<=") -> str:
        """Points ``p`` within ``radius`` of ``centre``, in a form an index on dec can use."""
        exact = (f"{FN}.distance({p.ra.text}, {p.dec.text}, {centre.ra.text}, "
                 f"{centre.dec.text}) {op} {radius.text}")  # fmt: skip
        parts = []
        for a, b in ((p, centre), (centre, p)):
            if a.dec.value is None:  # a column or an expression: a band an index can use
                if b.dec.value is not None and radius.value is not None:
                    lo, hi = b.dec.value - radius.value, b.dec.value + radius.value
                    parts.append(f"{a.dec.text} BETWEEN {lo!r} AND {hi!r}")
                else:
                    parts.append(f"{a.dec.text} BETWEEN {b.dec.text} - {radius.text} "
                                 f"AND {b.dec.text} + {radius.text}")  # fmt: skip
                if b.ra.value is not None and b.dec.value is not None and radius.value is not None:
                    w = geometry.ra_half_width(b.dec.value, radius.value)
                    if w is not None:
                        ra0 = b.ra.value % 360
                        lo, hi = ra0 - w, ra0 + w
                        if lo < 0:
                            parts.append(f"({a.ra.text} >= {lo + 360!r} OR {a.ra.text} <= {hi!r})")
                        elif hi >= 360:
                            parts.append(f"({a.ra.text} >= {lo!r} OR {a.ra.text} <= {hi - 360!r})")
                        else:
                            parts.append(f"{a.ra.text} BETWEEN {lo!r} AND {hi!r}")
        return "(" + " AND ".join([*parts, exact]) + ")"

    # ---- functions -----------------------------------------------------------------------

    def function_call(self, tree: Tree, scope: _Scope):
        name_tok, quantifier, *args = tree.children
        args = [a for a in args if a is not None]
        name = _ident(name_tok)[0]
        if name in _GEOMETRY:
            return self.geometry_function(name, name_tok, args, scope)
        if name in _AGGREGATES:
            if len(args) != 1:
                raise self.error(f"{name.upper()} takes one argument", name_tok)
            q = str(quantifier.children[0]).upper() + " " if quantifier is not None else ""
            return Sql(f"{name.upper()}({q}{self.scalar(args[0], scope).text})", name=name)
        if quantifier is not None:
            raise self.error(f"{name.upper()} takes no DISTINCT/ALL", name_tok)
        if name in _VARIADIC:
            texts = ", ".join(self.scalar(a, scope).text for a in args)
            return Sql(f"{_VARIADIC[name]}({texts})", name=name)
        if name not in _FUNCTIONS:
            raise self.error(f"unknown or unsupported function {name.upper()}", name_tok)
        template, counts = _FUNCTIONS[name]
        if len(args) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise self.error(f"{name.upper()} takes {want} argument(s), not {len(args)}",
                             name_tok)  # fmt: skip
        texts = [self.scalar(a, scope).text for a in args]
        if name in ("round", "truncate") and len(texts) == 1:
            texts.append("0")
        return Sql(template.format(*texts), name=name)

    def point(self, value, node) -> Point:
        if isinstance(value, Point):
            return value
        raise self.error("a POINT is needed here", node)

    def geometry_function(self, name: str, tok: Token, args: list, scope: _Scope):
        if name in ("point", "circle", "box", "polygon") and args and isinstance(
            args[0], Tree) and args[0].data == "string":
            args = args[1:]  # ADQL 2.0's coordinate system argument, deprecated in 2.1
        values = [self.value(a, scope) for a in args]
        n = len(values)

        def scalars(k: int) -> list[Sql]:
            if n != k:
                raise self.error(f"{name.upper()} takes {k} arguments here, not {n}", tok)
            return [self.as_scalar(v, a) for v, a in zip(values, args, strict=True)]

        if name == "point":
            if n != 2:
                raise self.error("POINT takes (ra, dec)", tok)
            ra, dec = (self.as_scalar(v, a) for v, a in zip(values, args, strict=True))
            return Point(ra, dec)
        if name == "circle":
            vals = values
            if len(vals) == 2:
                return Circle(self.point(vals[0], args[0]), self.as_scalar(vals[1], args[1]))
            if len(vals) == 3:
                ra, dec, r = (self.as_scalar(v, tok) for v in vals)
                return Circle(Point(ra, dec), r)
            raise self.error("CIRCLE takes (ra, dec, radius) or (point, radius)", tok)
        if name == "box":
            vals = values
            if len(vals) == 3:
                c = self.point(vals[0], args[0])
                ra, dec = c.ra, c.dec
                w, h = self.as_scalar(vals[1], tok), self.as_scalar(vals[2], tok)
            elif len(vals) == 4:
                ra, dec, w, h = (self.as_scalar(v, tok) for v in vals)
            else:
                raise self.error("BOX takes (ra, dec, width, height)", tok)
            if None in (ra.value, dec.value, w.value, h.value):
                raise self.error("BOX needs constant arguments", tok)
            r0, d0, hw, hh = ra.value, dec.value, w.value / 2, h.value / 2  # type: ignore
            corners = [(r0 - hw, d0 - hh), (r0 + hw, d0 - hh), (r0 + hw, d0 + hh),
                       (r0 - hw, d0 + hh)]  # fmt: skip
            return Polygon([Point(Sql(repr(a % 360), a % 360), Sql(repr(b), b))
                            for a, b in corners])
        if name == "polygon":
            vals = values
            if all(isinstance(v, Point) for v in vals):
                vertices = list(vals)
            else:
                if len(vals) % 2 or not all(isinstance(v, Sql) for v in vals):
                    raise self.error("POLYGON takes ra, dec pairs or points", tok)
                vertices = [Point(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
            if len(vertices) < 3:
                raise self.error("a POLYGON needs at least 3 vertices", tok)
            return Polygon(vertices)  # type: ignore[arg-type]
        if name == "distance":
            if n == 4:
                a, b, c, d = scalars(4)
                return Distance(Point(a, b), Point(c, d))
            if n == 2:
                return Distance(self.point(values[0], args[0]), self.point(values[1], args[1]))
            raise self.error("DISTANCE takes two points or four numbers", tok)
        if name in ("coord1", "coord2"):
            if n != 1:
                raise self.error(f"{name.upper()} takes one POINT", tok)
            p = self.point(values[0], args[0])
            return p.ra if name == "coord1" else p.dec
        if name == "coordsys":
            return Sql(_literal("ICRS"), name="coordsys")
        if name == "area":
            if n != 1:
                raise self.error("AREA takes one region", tok)
            g = values[0]
            if isinstance(g, Circle):
                r = g.radius.text
                return Sql(f"(2 * pi() * (1 - cos(radians({r}))) * power(180 / pi(), 2))",
                           name="area")  # fmt: skip
            if isinstance(g, Polygon) and g.constant() is not None:
                return Sql(repr(geometry.polygon_area(g.constant())), name="area")  # type: ignore
            raise self.error("AREA of this region is not supported (a circle, or a polygon "
                             "with constant vertices)", tok)  # fmt: skip
        if name == "centroid":
            if n == 1 and isinstance(values[0], Circle):
                return values[0].centre
            raise self.error("CENTROID is supported for circles only", tok)
        if name == "region":
            raise self.error("REGION is not supported (it is deprecated in ADQL 2.1)", tok)
        if name in ("contains", "intersects"):
            if n != 2:
                raise self.error(f"{name.upper()} takes two regions", tok)
            return self.relation(name, values[0], values[1], tok)
        raise self.error(f"{name.upper()} is not supported", tok)

    def relation(self, name: str, a, b, tok) -> Predicate:
        if name == "intersects" and isinstance(b, Point) and not isinstance(a, Point):
            a, b = b, a
        if isinstance(a, Point) and isinstance(b, Circle):
            return Predicate(self.cone(a, b.centre, b.radius))
        if isinstance(a, Point) and isinstance(b, Polygon):
            test = f"{FN}.in_polygon({a.ra.text}, {a.dec.text}, {b.array()})"
            const = b.constant()
            if const is not None:
                ra, dec, r = geometry.bounding_cap(const)
                cap = Point(Sql(repr(ra), ra), Sql(repr(dec), dec))
                return Predicate(f"({self.cone(a, cap, Sql(repr(r), r))} AND {test})")
            return Predicate(test)
        if isinstance(a, Circle) and isinstance(b, Circle):
            d = Distance(a.centre, b.centre).sql().text
            if name == "contains":
                return Predicate(f"({d} + {a.radius.text} <= {b.radius.text})")
            r = Sql(f"({a.radius.text} + {b.radius.text})")
            if a.radius.value is not None and b.radius.value is not None:
                r.value = a.radius.value + b.radius.value
            return Predicate(self.cone(a.centre, b.centre, r))
        kinds = f"{type(a).__name__.upper()}, {type(b).__name__.upper()}"
        raise self.error(f"{name.upper()}({kinds}) is not supported", tok)


def translate(adql: str, catalog: Catalog, maxrec: int | None = None) -> Translation:
    """Translate ``adql`` for ``catalog``; with ``maxrec`` the outermost query returns at
    most ``maxrec + 1`` rows (the extra row tells the service the result overflowed)."""
    tree = parse(adql)
    tr = _Translator(catalog)
    outer: dict = {"columns": {}, "xtypes": {}, "top": None}
    limit = None if maxrec is None else maxrec + 1
    sql = tr.query_expression(tree.children[0], None, limit, outer)
    return Translation(sql, outer["columns"], outer["xtypes"], outer["top"])

