"""The translator: the parts of this package put together, and `translate`, its one door.

The SQL is written from the parse tree, never from the query text: identifiers are quoted,
string literals are quoted by psycopg, numbers are re-written from their parsed values,
functions come from fixed tables, and a table may be read only if the `TableSet` publishes
it. The parts call one another (a value may hold a sub-query, a sub-query values), so the
translator is one object made of them: `Queries` (queries.py), `Values` (values.py) and
`Functions` (functions.py), with geometry (geometry.py) and names in scope (scope.py) as
plain functions and objects they use.

>>> t = translate("SELECT TOP 3 ra FROM demo.stars WHERE mag < 5", catalog)  # doctest: +SKIP
>>> t.sql
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..tableset import TableSet, TapColumn
from .functions import Functions
from .parse import parse
from .queries import Output, Queries
from .values import Values


@dataclass
class Translation:
    """The SQL of one ADQL query and what is known of its output columns."""

    sql: str
    columns: dict[str, TapColumn] = field(default_factory=dict)  # output name -> metadata
    xtypes: dict[str, str] = field(default_factory=dict)  # output name -> DALI xtype
    top: int | None = None  # the outermost query's TOP
    tables: list[str] = field(default_factory=list)  # published tables read


class Translator(Queries, Values, Functions):
    """One query's translation: the catalogue it may read and the WITH names it made."""

    def __init__(self, catalog: TableSet):
        self.catalog = catalog
        self.ctes: dict[str, set[str]] = {}


def translate(adql: str, catalog: TableSet, maxrec: int | None = None) -> Translation:
    """Translate ``adql`` for ``catalog``; with ``maxrec`` the outermost query returns at
    most ``maxrec + 1`` rows (the extra row tells the service the result overflowed)."""
    tree = parse(adql)
    output = Output()
    limit = None if maxrec is None else maxrec + 1
    sql = Translator(catalog).query_expression(tree.children[0], None, limit, output)
    return Translation(sql, output.columns, output.xtypes, output.top)
