"""The names a query may use: its tables (published ones, WITH names, derived tables),
their aliases, its columns and its select list's names.

The published tables are the `TableSet`; naming anything else is an error here, before any
SQL is written, which is what keeps the platform's own tables out of reach. A column's name
is resolved as far as the translator can know it: a published table's column brings its
metadata (unit, UCD) to the result; in a derived table PostgreSQL decides.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from lark import Token, Tree

from ..tableset import TableSet, TapTable, quote_identifier
from .parse import ADQLError, dotted_parts, identifier
from .sql import Sql


@dataclass
class Source:
    """A table in a FROM clause, under the names a column qualifier may use for it."""

    alias: str  # the SQL alias (unquoted)
    names: set[str]  # names a column qualifier may use for it (lower case)
    table: TapTable | None  # None for derived tables and WITH names


@dataclass
class Scope:
    """The tables of one query specification; a sub-query's scope sees its parent's too."""

    sources: list[Source] = field(default_factory=list)
    parent: Scope | None = None
    aliases: set[str] = field(default_factory=set)  # select-list names (for ORDER BY)

    def find(self, qualifier: list[tuple[str, bool]]) -> Source | None:
        """The table a column qualifier names, the innermost first (correlated sub-queries
        reach outwards)."""
        text = ".".join(p for p, _ in qualifier)
        delimited = any(d for _, d in qualifier)
        key = text if delimited else text.lower()
        scope: Scope | None = self
        while scope is not None:
            for s in scope.sources:
                if key in s.names or text in s.names:
                    return s
            scope = scope.parent
        return None

    def add_unpublished(self, alias: str) -> None:
        """A derived table or a WITH name: its columns are PostgreSQL's to check."""
        self.sources.append(Source(alias, {alias}, None))

    def add_table(self, tree: Tree, catalog: TableSet, ctes: Container[str]) -> str:
        """The SQL of a table named in FROM (a ``table_name`` node), now in scope; only
        the catalogue's tables and the query's WITH names may be read."""
        dotted, _as, alias = tree.children
        tokens = dotted_parts(dotted)
        parts = [identifier(t) for t in tokens]
        if len(parts) == 1 and parts[0][0] in ctes:
            name = parts[0][0]
            alias_name = identifier(alias)[0] if alias is not None else name
            self.add_unpublished(alias_name)
            return quote_identifier(name) + (
                f" AS {quote_identifier(alias_name)}" if alias is not None else ""
            )
        table = catalog.find(parts)
        if table is None:
            shown = ".".join(p for p, _ in parts)
            raise ADQLError.at(f"unknown table {shown!r}: see the service's /tables", tokens[0])
        if alias is not None:
            alias_name = identifier(alias)[0]
            names = {alias_name}
        else:
            # unaliased, a table answers to its TAP name and to its last part
            short = table.name.split(".")[-1]
            alias_name = table.pg_table if table.pg_schema != "pg_temp" else short
            names = {table.name, table.name.lower(), short, short.lower()}
        self.sources.append(Source(alias_name, names, table))
        return f"{table.sql} AS {quote_identifier(alias_name)}"

    def column(self, dotted: Tree) -> Sql:
        """The SQL of a column reference, with the published column's metadata if known."""
        tokens: list[Token] = dotted_parts(dotted)
        parts = [identifier(t) for t in tokens]
        column_name, _ = parts[-1]
        qualifier = parts[:-1]
        if qualifier:
            source = self.find(qualifier)
            if source is None:
                shown = ".".join(p for p, _ in qualifier)
                raise ADQLError.at(f"unknown table {shown!r} in column {tokens[-1]!s}", tokens[0])
            meta = source.table.column(column_name) if source.table is not None else None
            if source.table is not None and meta is None:
                raise ADQLError.at(f"{source.table.name} has no column {column_name!r}", tokens[-1])
            name = meta.sql_name if meta is not None else column_name
            return Sql(
                f"{quote_identifier(source.alias)}.{quote_identifier(name)}", column=meta, name=name
            )
        meta = None
        found = False
        s: Scope | None = self
        while s is not None and not found:
            for source in s.sources:
                if source.table is None:
                    found = True  # a derived table may have it: PostgreSQL decides
                    continue
                c = source.table.column(column_name)
                if c is not None:
                    meta, found = meta or c, True
            s = s.parent
        if not found and column_name in self.aliases:
            return Sql(quote_identifier(column_name), name=column_name)
        if not found and self.sources:
            raise ADQLError.at(f"unknown column {column_name!r}", tokens[-1])
        name = meta.sql_name if meta is not None else column_name
        return Sql(quote_identifier(name), column=meta, name=name)
