"""Publishing tables through TAP: their rows in TAP_SCHEMA, their grants, the catalogue.

Every published table is described in ``tap_schema`` (what clients read), recorded in
``tap_published`` (the PostgreSQL table behind it, public or proprietary and whose), and
readable by the service's read-only role. Each change bumps ``tap_generation`` so running
services reload what they publish.
"""

from __future__ import annotations

import re
from dataclasses import replace

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.sql import Literal

from ..db import connect
from ..errors import Invalid
from .tableset import TableSet, TapColumn, TapTable, quote_identifier, votable_type

READER = "hectornb_tap_reader"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_SCHEMAS = {"public", "tap_schema", "tap_upload", "hnb_adql", "information_schema"}


def _c(
    name, datatype, description, arraysize=None, principal=True, std=True, ucd=None
) -> TapColumn:
    return TapColumn(
        name, datatype, arraysize, None, None, ucd, None, description, False, principal, std
    )


#: TAP_SCHEMA as TAP 1.1 §4 defines it, describing itself.
TAP_SCHEMA_TABLES = [
    TapTable(
        "TAP_SCHEMA.schemas",
        "TAP_SCHEMA",
        "tap_schema",
        "schemas",
        [
            _c(
                "schema_name",
                "char",
                "schema name for reference to TAP_SCHEMA.schemas",
                arraysize="*",
            ),
            _c("utype", "char", "lists the utypes of schemas", arraysize="*"),
            _c("description", "char", "describes schemas in the tableset", arraysize="*"),
            _c("schema_index", "int", "recommended sort order when listing schemas"),
        ],
        "description of schemas in this tableset",
    ),
    TapTable(
        "TAP_SCHEMA.tables",
        "TAP_SCHEMA",
        "tap_schema",
        "tables",
        [
            _c("schema_name", "char", "the schema this table belongs to", arraysize="*"),
            _c("table_name", "char", "the fully qualified table name", arraysize="*"),
            _c("table_type", "char", "one of: table view", arraysize="*"),
            _c("utype", "char", "lists the utype of tables in the tableset", arraysize="*"),
            _c("description", "char", "describes tables in the tableset", arraysize="*"),
            _c("table_index", "int", "recommended sort order when listing tables"),
        ],
        "description of tables in this tableset",
    ),
    TapTable(
        "TAP_SCHEMA.columns",
        "TAP_SCHEMA",
        "tap_schema",
        "columns",
        [
            _c("table_name", "char", "the table this column belongs to", arraysize="*"),
            _c("column_name", "char", "the column name", arraysize="*"),
            _c(
                "datatype",
                "char",
                "the ADQL datatype (as in the VODataService specification)",
                arraysize="*",
            ),
            _c("arraysize", "char", "the length of variable-length datatypes", arraysize="*"),
            _c("xtype", "char", "a DALI or custom extended type annotation", arraysize="*"),
            _c('"size"', "int", "deprecated: use arraysize"),  # a reserved word: delimited
            _c("description", "char", "describes the column", arraysize="*"),
            _c("utype", "char", "lists the utypes of columns in the tableset", arraysize="*"),
            _c("unit", "char", "the unit in VO standard format", arraysize="*"),
            _c("ucd", "char", "the UCD of column if any", arraysize="*"),
            _c("indexed", "int", "an indexed column; 1 means true, 0 means false"),
            _c("principal", "int", "a principal column; 1 means true, 0 means false"),
            _c("std", "int", "a standard column; 1 means true, 0 means false"),
            _c("column_index", "int", "recommended sort order when listing columns"),
        ],
        "description of columns in this tableset",
    ),
    TapTable(
        "TAP_SCHEMA.keys",
        "TAP_SCHEMA",
        "tap_schema",
        "keys",
        [
            _c("key_id", "char", "unique key identifier", arraysize="*"),
            _c("from_table", "char", "fully qualified table name", arraysize="*"),
            _c("target_table", "char", "fully qualified table name", arraysize="*"),
            _c("description", "char", "description of this key", arraysize="*"),
            _c("utype", "char", "utype of this key", arraysize="*"),
        ],
        "description of foreign keys in this tableset",
    ),
    TapTable(
        "TAP_SCHEMA.key_columns",
        "TAP_SCHEMA",
        "tap_schema",
        "key_columns",
        [
            _c("key_id", "char", "key identifier from TAP_SCHEMA.keys", arraysize="*"),
            _c("from_column", "char", "key column name in the from_table", arraysize="*"),
            _c("target_column", "char", "key column name in the target_table", arraysize="*"),
        ],
        "description of foreign key columns in this tableset",
    ),
]

_TAP_SCHEMA_KEYS = [
    ("tables_schema", "TAP_SCHEMA.tables", "TAP_SCHEMA.schemas", "schema_name", "schema_name"),
    ("columns_table", "TAP_SCHEMA.columns", "TAP_SCHEMA.tables", "table_name", "table_name"),
    ("keys_from", "TAP_SCHEMA.keys", "TAP_SCHEMA.tables", "from_table", "table_name"),
    ("keys_target", "TAP_SCHEMA.keys", "TAP_SCHEMA.tables", "target_table", "table_name"),
    ("key_columns_key", "TAP_SCHEMA.key_columns", "TAP_SCHEMA.keys", "key_id", "key_id"),
]

SCHEMA_DESCRIPTIONS = {
    "TAP_SCHEMA": "The TAP service's description of itself (TAP 1.1).",
}


def _bump(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE tap_generation SET n = n + 1")


def write_table(
    conn: psycopg.Connection,
    table: TapTable,
    *,
    public: bool = True,
    owner: str | None = None,
    by: str | None = None,
    schema_description: str | None = None,
    index: int | None = None,
) -> None:
    """Describe ``table`` in TAP_SCHEMA (replacing an earlier description) and let the
    read-only role read it. Runs in the caller's transaction."""
    conn.execute(
        "INSERT INTO tap_schema.schemas (schema_name, description) VALUES (%s, %s) "
        "ON CONFLICT (schema_name) DO UPDATE SET description = "
        "coalesce(EXCLUDED.description, tap_schema.schemas.description)",
        (table.schema, schema_description or SCHEMA_DESCRIPTIONS.get(table.schema)),
    )
    conn.execute("DELETE FROM tap_schema.tables WHERE table_name = %s", (table.name,))
    conn.execute(
        "INSERT INTO tap_schema.tables (schema_name, table_name, table_type, utype, "
        "description, table_index) VALUES (%s, %s, %s, %s, %s, %s)",
        (table.schema, table.name, table.table_type, table.utype, table.description, index),
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, "
            'xtype, "size", description, utype, unit, ucd, indexed, principal, std, '
            "column_index) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    table.name,
                    c.name,
                    c.datatype,
                    c.arraysize,
                    c.xtype,
                    int(c.arraysize.rstrip("*"))
                    if c.arraysize and c.arraysize.rstrip("*").isdigit()
                    else None,
                    c.description,
                    c.utype,
                    c.unit,
                    c.ucd,
                    int(c.indexed),
                    int(c.principal),
                    int(c.std),
                    k,
                )
                for k, c in enumerate(table.columns, start=1)
            ],
        )
    conn.execute(
        "INSERT INTO tap_published (table_name, pg_schema, pg_table, public, owner, "
        "published_by) VALUES (%s, %s, %s, %s, %s, %s)",
        (table.name, table.pg_schema, table.pg_table, public, owner, by),
    )
    if reader_exists(conn):
        conn.execute(f"GRANT USAGE ON SCHEMA {quote_identifier(table.pg_schema)} TO {READER}")
        conn.execute(f"GRANT SELECT ON {table.sql} TO {READER}")
    _bump(conn)


def _scalar(conn: psycopg.Connection, sql: str, args: tuple = ()):
    """The one value a query returns, whatever rows the connection makes (the platform's
    pool gives dicts, the TAP pool tuples)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(sql, args).fetchone()[0]


def view_columns(conn: psycopg.Connection, pg_schema: str, view: str) -> list[tuple]:
    """(name, VOTable datatype, arraysize, xtype) of each column of a view, in order: its
    types come from the view itself, the rest of its description from the caller."""
    rows = conn.execute(
        "SELECT a.attname AS name, a.atttypid::integer AS oid "
        "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum",
        (f"{pg_schema}.{view}",),
    ).fetchall()
    return [(r["name"], *votable_type(r["oid"])) for r in rows]


def reader_exists(conn: psycopg.Connection) -> bool:
    """Whether the read-only role exists (a database user without CREATEROLE could not make
    it; an administrator can: ``CREATE ROLE hectornb_tap_reader NOLOGIN``)."""
    return bool(_scalar(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", (READER,)))


def reader_usable(conn: psycopg.Connection) -> bool:
    """Whether this database user may take the read-only role (``SET ROLE``): it exists and
    the user is a member of it (roles are the whole server's: another platform on the same
    server, or an administrator, may have made it without granting it to this user)."""
    return bool(
        _scalar(
            conn,
            "SELECT count(*) FROM pg_roles WHERE rolname = %s AND "
            "pg_has_role(current_user, oid, 'MEMBER')",
            (READER,),
        )
    )


def grant_reader(conn: psycopg.Connection) -> int:
    """Give the read-only role SELECT on every published table it cannot read yet (it may
    have been created by an administrator after the tables were published); the count."""
    with conn.cursor(row_factory=tuple_row) as cur:
        missing = cur.execute(
            "SELECT pg_schema, pg_table FROM tap_published p WHERE to_regclass("
            "format('%%I.%%I', pg_schema, pg_table)) IS NOT NULL AND NOT has_table_privilege("
            "%s, format('%%I.%%I', pg_schema, pg_table), 'SELECT')",
            (READER,),
        ).fetchall()
    for schema, table in missing:
        conn.execute(f"GRANT USAGE ON SCHEMA {quote_identifier(schema)} TO {READER}")
        conn.execute(
            f"GRANT SELECT ON {quote_identifier(schema)}.{quote_identifier(table)} TO {READER}"
        )
    return len(missing)


def ensure_tap_schema() -> None:
    """Publish TAP_SCHEMA's own tables and keys, and the platform's tables (once)."""
    from .obscore import publish_obscore
    from .platform import PG_SCHEMA, TABLES, publish_platform_tables

    with connect() as conn:
        have = conn.execute(
            "SELECT count(*) FILTER (WHERE schema_name = 'TAP_SCHEMA') AS tap, "
            "count(*) FILTER (WHERE pg_schema = %s) AS platform FROM tap_schema.tables "
            "JOIN tap_published USING (table_name)",
            (PG_SCHEMA,),
        ).fetchone()
        # the platform's views and ivoa.obscore
        if have["tap"] == len(TAP_SCHEMA_TABLES) and have["platform"] == len(TABLES) + 1:
            return
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('hectornb tap_schema'))")
        publish_platform_tables(conn)
        publish_obscore(conn, PG_SCHEMA)
        for k, table in enumerate(TAP_SCHEMA_TABLES):
            write_table(conn, table, index=k, by="hectornb")
        for key_id, src, target, src_col, target_col in _TAP_SCHEMA_KEYS:
            conn.execute("DELETE FROM tap_schema.keys WHERE key_id = %s", (key_id,))
            conn.execute(
                "INSERT INTO tap_schema.keys (key_id, from_table, target_table, description)"
                " VALUES (%s, %s, %s, %s)",
                (key_id, src, target, "TAP_SCHEMA's own key"),
            )
            conn.execute(
                "INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) "
                "VALUES (%s, %s, %s)",
                (key_id, src_col, target_col),
            )


def unpublish(name: str) -> bool:
    """Withdraw a table from TAP (its PostgreSQL table is dropped). True if it existed."""
    with connect() as conn:
        row = conn.execute(
            "SELECT pg_schema, pg_table FROM tap_published WHERE table_name = %s", (name,)
        ).fetchone()
        if row is None or row["pg_schema"] == "tap_schema":
            return False
        conn.execute("DELETE FROM tap_schema.tables WHERE table_name = %s", (name,))
        conn.execute(
            f"DROP TABLE IF EXISTS {quote_identifier(row['pg_schema'])}."
            f"{quote_identifier(row['pg_table'])}"
        )
        _bump(conn)
        return True


def generation(conn: psycopg.Connection) -> int:
    """What is published changes this number (services reload their catalogue)."""
    return _scalar(conn, "SELECT n FROM tap_generation")


def load_tables(conn: psycopg.Connection) -> list[TapTable]:
    """Every published table with its columns (public and proprietary)."""
    tables: dict[str, TapTable] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        published = cur.execute(
            "SELECT t.table_name, t.schema_name, t.table_type, t.utype, t.description, "
            "p.pg_schema, p.pg_table, p.public, p.owner FROM tap_schema.tables t "
            "JOIN tap_published p USING (table_name) ORDER BY t.table_index, t.table_name"
        ).fetchall()
        columns = cur.execute(
            "SELECT * FROM tap_schema.columns ORDER BY table_name, column_index, column_name"
        ).fetchall()
    for r in published:
        tables[r["table_name"]] = TapTable(
            r["table_name"],
            r["schema_name"],
            r["pg_schema"],
            r["pg_table"],
            [],
            r["description"],
            r["table_type"],
            r["utype"],
            r["public"],
            r["owner"],
        )
    for r in columns:
        t = tables.get(r["table_name"])
        if t is not None:
            t.columns.append(
                TapColumn(
                    r["column_name"],
                    r["datatype"],
                    r["arraysize"],
                    r["xtype"],
                    r["unit"],
                    r["ucd"],
                    r["utype"],
                    r["description"],
                    bool(r["indexed"]),
                    bool(r["principal"]),
                    bool(r["std"]),
                )
            )
    return list(tables.values())


def may_read(table: TapTable, user: str | None) -> bool:
    """Public tables for anyone; the platform's for signed-in users; a proprietary table
    (with an owner) for its owner only. ``user`` None is an anonymous request."""
    if table.public:
        return True
    return user is not None and (table.owner is None or table.owner == user)


def catalog_for(tables: list[TapTable], user: str | None) -> TableSet:
    """The tables ``user`` may query, TAP_SCHEMA showing only those."""
    visible = [t for t in tables if may_read(t, user)]
    names = Literal([t.name for t in visible]).as_string(None) + "::text[]"
    schemas = Literal(sorted({t.schema for t in visible})).as_string(None) + "::text[]"
    keys = (
        f"SELECT key_id FROM tap_schema.keys WHERE from_table = ANY({names}) "
        f"AND target_table = ANY({names})"
    )
    filters = {
        "schemas": f"schema_name = ANY({schemas})",
        "tables": f"table_name = ANY({names})",
        "columns": f"table_name = ANY({names})",
        "keys": f"key_id IN ({keys})",
        "key_columns": f"key_id IN ({keys})",
    }
    out = []
    for t in visible:
        if t.pg_schema == "tap_schema" and t.pg_table in filters:
            t = replace(
                t, rows_sql=f"SELECT * FROM tap_schema.{t.pg_table} WHERE {filters[t.pg_table]}"
            )
        out.append(t)
    return TableSet(out)


def check_name(name: str) -> tuple[str, str]:
    """(schema, table) of a new table's TAP name ``schema.table``, refusing other forms."""
    schema, dot, table = name.partition(".")
    if not dot or not _NAME.match(schema) or not _NAME.match(table):
        raise Invalid(f"table name {name!r}: give SCHEMA.TABLE, letters, digits and _")
    if schema.lower() in RESERVED_SCHEMAS or schema.lower().startswith("pg_"):
        raise Invalid(f"schema {schema!r} is reserved; choose another")
    return schema.lower(), table.lower()


def load_keys() -> list[dict]:
    """Every foreign key of TAP_SCHEMA with its column pairs."""
    with connect() as conn:
        rows = conn.execute(
            "SELECT k.key_id, k.from_table, k.target_table, k.description, "
            "array_agg(ARRAY[c.from_column, c.target_column]) AS columns FROM tap_schema.keys k "
            "JOIN tap_schema.key_columns c USING (key_id) GROUP BY k.key_id"
        ).fetchall()
    return [dict(r) for r in rows]


def load_schema_descriptions() -> dict[str, str]:
    with connect() as conn:
        rows = conn.execute("SELECT schema_name, description FROM tap_schema.schemas").fetchall()
    return {r["schema_name"]: r["description"] for r in rows if r["description"]}
