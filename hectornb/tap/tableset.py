"""What the TAP service publishes: tables and columns as TAP_SCHEMA describes them.

A `TableSet` is the translator's allow-list: an ADQL query may name only the tables in it
(published ones, the query's own uploads, its WITH names), and each published table knows
the PostgreSQL table behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# PostgreSQL type OID -> (VOTable datatype, arraysize, xtype)
_VOTABLE_OF_OID = {
    16: ("boolean", None, None),
    20: ("long", None, None),
    21: ("short", None, None),
    23: ("int", None, None),
    26: ("long", None, None),
    700: ("float", None, None),
    701: ("double", None, None),
    1700: ("double", None, None),
    25: ("char", "*", None),
    1043: ("char", "*", None),
    1042: ("char", "*", None),
    19: ("char", "*", None),
    18: ("char", "*", None),
    1083: ("char", "*", None),
    1082: ("char", "*", "timestamp"),
    1114: ("char", "*", "timestamp"),
    1184: ("char", "*", "timestamp"),
    1005: ("short", "*", None),
    1007: ("int", "*", None),
    1016: ("long", "*", None),
    1021: ("float", "*", None),
    1022: ("double", "*", None),
    1231: ("double", "*", None),
}


def votable_type(oid: int) -> tuple[str, str | None, str | None]:
    """(VOTable datatype, arraysize, DALI xtype) of a PostgreSQL type; text for the rest."""
    return _VOTABLE_OF_OID.get(oid, ("char", "*", None))


def unique_identifier(name: str, used: set[str], lower: bool = False) -> str:
    """``name`` as a regular identifier (letters, digits, _; a letter first), made unique
    among ``used`` with a suffix, and added to it."""
    text = name.strip().lower() if lower else name
    out = "".join(ch if (ch.isascii() and ch.isalnum()) or ch == "_" else "_" for ch in text)
    out = out or "col"
    if not out[0].isalpha():
        out = "c" + out
    base, k = out, 2
    while out in used:
        out, k = f"{base}_{k}", k + 1
    used.add(out)
    return out


def quote_identifier(name: str) -> str:
    """A PostgreSQL delimited identifier (statements are sent without placeholders)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TapColumn:
    """One column as TAP_SCHEMA.columns describes it (VOTable datatype, unit, UCD, …)."""

    name: str
    datatype: str = "char"
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None
    indexed: bool = False
    principal: bool = False
    std: bool = False

    @property
    def sql_name(self) -> str:
        """The database column's name: TAP_SCHEMA writes a reserved word delimited
        (``"size"``), the column itself is ``size``."""
        n = self.name
        return n[1:-1] if len(n) > 1 and n[0] == n[-1] == '"' else n


@dataclass
class TapTable:
    """A queryable table: its TAP name (``schema.table``) and the PostgreSQL table behind it."""

    name: str
    schema: str
    pg_schema: str
    pg_table: str
    columns: list[TapColumn] = field(default_factory=list)
    description: str | None = None
    table_type: str = "table"
    utype: str | None = None
    public: bool = True
    owner: str | None = None
    rows_sql: str | None = None  # a sub-query standing for the table (TAP_SCHEMA per user)

    @property
    def sql(self) -> str:
        if self.rows_sql:
            return f"({self.rows_sql})"
        return f"{quote_identifier(self.pg_schema)}.{quote_identifier(self.pg_table)}"

    def column(self, name: str) -> TapColumn | None:
        """The column called ``name`` (as a regular identifier: case-insensitive)."""
        for c in self.columns:
            if c.sql_name == name:
                return c
        low = name.lower()
        for c in self.columns:
            if c.sql_name.lower() == low:
                return c
        return None

    def position(self) -> tuple[str, str] | None:
        """The main position's (RA, Dec) column names: from UCDs, else columns ra/dec."""
        ra = [c.name for c in self.columns if (c.ucd or "").startswith("pos.eq.ra;meta.main")]
        dec = [c.name for c in self.columns if (c.ucd or "").startswith("pos.eq.dec;meta.main")]
        if len(ra) == 1 and len(dec) == 1:
            return ra[0], dec[0]
        names = {c.name.lower(): c.name for c in self.columns}
        if "ra" in names and "dec" in names:
            return names["ra"], names["dec"]
        return None


class TableSet:
    """The tables a query may read, by TAP name (regular identifiers match case-insensitively)."""

    def __init__(self, tables: list[TapTable] | None = None):
        self.tables: dict[str, TapTable] = {}
        for t in tables or []:
            self.add(t)

    def add(self, table: TapTable) -> None:
        self.tables[table.name] = table

    def find(self, parts: list[tuple[str, bool]]) -> TapTable | None:
        """The table named by identifier ``parts`` ((text, delimited) each), or None."""
        wanted = ".".join(p for p, _ in parts)
        if wanted in self.tables:
            return self.tables[wanted]
        if any(delimited for _, delimited in parts):
            return None
        low = wanted.lower()
        for name, table in self.tables.items():
            if name.lower() == low:
                return table
        return None
