"""The observing log in PostgreSQL: versioned records, filtered lists, history.

An edit locks the current row (``FOR UPDATE``), closes it and inserts the next version, as
Rubin's exposurelog does; a delete is a version marked deleted, so nothing is ever lost and a
delete can be undone. Giving the version one edited (``expected_version``) turns a write
that raced another into a conflict rather than a silent overwrite. Reads are open to every
signed-in user; writes need the observer role. SQL is composed from the collections' own
field names (`psycopg.sql.Identifier`); user values only ever travel as parameters.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence

from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import csv_cells
from ..config import Settings
from ..db import engine
from ..errors import Conflict, Forbidden, NotFound
from .schema import Collection, FieldErrors, collection, members, parse_value, validate

MAX_LIMIT = 1000


def _columns(coll: Collection) -> list[str]:
    return [f.name for f in coll.fields] + (["members"] if coll.name == "tiles" else [])


def _stored(coll: Collection, record: dict) -> dict:
    """The field values as the table holds them (an absent JSON value is empty)."""
    return {
        f.name: ({} if f.name != "sky" else [])
        if f.kind == "json" and record.get(f.name) is None
        else record.get(f.name)
        for f in coll.fields
    }


def _params(coll: Collection, record: dict) -> dict:
    out = {
        k: Jsonb(v) if coll.field(k).kind == "json" else v for k, v in _stored(coll, record).items()
    }
    if coll.name == "tiles":
        out["members"] = members(record)
    return out


def _csv_value(f, value):
    if value is None:
        return ""
    if f.kind == "json":
        return json.dumps(value, default=str, sort_keys=True)
    if f.kind == "texts":
        return ";".join(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _public(coll: Collection, row: Mapping) -> dict:
    """A row as the API shows it: the fields, then the version's who and when."""
    out = {f.name: row[f.name] for f in coll.fields}
    out.update(
        version=row["version"], deleted=row["deleted"], author=row["author"], created=row["created"]
    )
    if coll.name == "tiles":
        out["members"] = row["members"]
    return out


class ObslogStore:
    """The observing log; every method takes the acting user from the caller (the server's
    authenticated user), never from the record."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings

    def _connect(self):
        return engine.connect(self.settings)

    # ---- roles ------------------------------------------------------------------------------

    def is_observer(self, user: str) -> bool:
        with self._connect() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM obslog_observer WHERE username = %s", (user,)
                ).fetchone()
                is not None
            )

    def set_observer(self, user: str, observer: bool = True) -> None:
        """Give or take the observer role (an administrator's command)."""
        with self._connect() as conn:
            if observer:
                conn.execute(
                    "INSERT INTO obslog_observer (username) VALUES (%s) ON CONFLICT DO NOTHING",
                    (user,),
                )
            else:
                conn.execute("DELETE FROM obslog_observer WHERE username = %s", (user,))

    def _writer(self, conn, user: str) -> None:
        if (
            conn.execute("SELECT 1 FROM obslog_observer WHERE username = %s", (user,)).fetchone()
            is None
        ):
            raise Forbidden(f"{user} is not an observer: only observers edit the log")

    # ---- reading ----------------------------------------------------------------------------

    def get(self, name: str, record_id: str, version: int | None = None) -> dict:
        coll = collection(name)
        where = sql.SQL("superseded IS NULL") if version is None else sql.SQL("version = %(v)s")
        with self._connect() as conn:
            row = conn.execute(
                sql.SQL("SELECT * FROM {} WHERE id = %(id)s AND {}").format(
                    sql.Identifier(coll.table), where
                ),
                {"id": str(record_id), "v": version},
            ).fetchone()
        if row is None:
            raise NotFound(
                f"no {name[:-1]} {record_id!r}" + (f" version {version}" if version else "")
            )
        return _public(coll, row)

    def history(self, name: str, record_id: str) -> list[dict]:
        """Every version, oldest first, each with who, when and what changed."""
        coll = collection(name)
        with self._connect() as conn:
            rows = conn.execute(
                sql.SQL("SELECT * FROM {} WHERE id = %s ORDER BY version").format(
                    sql.Identifier(coll.table)
                ),
                (str(record_id),),
            ).fetchall()
        if not rows:
            raise NotFound(f"no {name[:-1]} {record_id!r}")
        out, before = [], None
        for row in rows:
            now = _public(coll, row)
            fields = {f.name: now[f.name] for f in coll.fields} | {"deleted": now["deleted"]}
            changed = {
                k: {"from": None if before is None else before[k], "to": v}
                for k, v in fields.items()
                if before is None or before[k] != v
            }
            out.append(
                {
                    "version": now["version"],
                    "author": now["author"],
                    "created": now["created"],
                    "deleted": now["deleted"],
                    "changed": changed,
                }
            )
            before = fields
        return out

    def list(self, name: str, query: Mapping[str, Sequence[str]] | None = None) -> dict:
        """Current records matching ``query`` (the REST API's query arguments, each a list
        of strings): ``{"total", "offset", "limit", "items"}``.

        Filters: ``<field>=v`` (any of the values) on exact fields; ``min_<field>`` and
        ``max_<field>`` (inclusive) on ranges; ``q`` (substring of any text field);
        ``tags``/``exclude_tags`` (any of / none of) on list fields, also by their own name;
        ``deleted`` false (default), true or any; tiles: ``member`` (the tiles holding a
        target or star, by id). ``order_by`` (repeatable, ``-`` for
        descending; the record id breaks ties, so pages are stable), ``offset``, ``limit``.
        """
        coll = collection(name)
        conds, params, errors = self._filters(coll, query or {})
        order, page = self._order(coll, query or {}, errors)
        if errors:
            raise FieldErrors(errors)
        where = sql.SQL(" AND ").join([sql.SQL("superseded IS NULL"), *conds])
        table = sql.Identifier(coll.table)
        with self._connect() as conn:
            # the page and the number of matches from one scan
            rows = conn.execute(
                sql.SQL(
                    "SELECT *, count(*) OVER () AS _total FROM {} WHERE {}"
                    " ORDER BY {} OFFSET %(offset)s LIMIT %(limit)s"
                ).format(table, where, order),
                {**params, **page},
            ).fetchall()
            if rows:
                total = rows[0]["_total"]
            else:  # a page past the end says nothing of the total
                total = conn.execute(
                    sql.SQL("SELECT count(*) AS n FROM {} WHERE {}").format(table, where), params
                ).fetchone()["n"]
        return {"total": total, **page, "items": [_public(coll, r) for r in rows]}

    def _filters(self, coll: Collection, query: Mapping[str, Sequence[str]]):
        conds: list[sql.Composable] = []
        params: dict = {}
        errors: list[dict] = []
        known = {"q", "deleted", "order_by", "offset", "limit", "tags", "exclude_tags", "member"}
        for arg, values in query.items():
            values = [v for v in values if v != ""]
            if not values:
                continue
            field_name = arg.removeprefix("min_").removeprefix("max_")
            f = coll.field(field_name) if arg not in known else None
            key = f"p{len(params)}"
            if arg == "member" and coll.name == "tiles":  # tiles holding a target or star
                conds.append(sql.SQL("members && %({})s").format(sql.SQL(key)))
                params[key] = [str(v) for v in values]
            elif arg == "deleted":
                choice = values[-1].lower()
                if choice not in ("false", "true", "any"):
                    errors.append({"field": "deleted", "reason": "must be false, true or any"})
                elif choice != "any":
                    conds.append(sql.SQL("deleted = %({})s").format(sql.SQL(key)))
                    params[key] = choice == "true"
            elif arg == "q":
                texts = [g.name for g in coll.fields if g.search == "text"]
                if texts:
                    conds.append(
                        sql.SQL("({})").format(
                            sql.SQL(" OR ").join(
                                sql.SQL("{} ILIKE %({})s").format(sql.Identifier(t), sql.SQL(key))
                                for t in texts
                            )
                        )
                    )
                    params[key] = (
                        "%"
                        + values[-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                        + "%"
                    )
            elif arg in ("tags", "exclude_tags") or (
                f is not None and f.search == "tags" and arg == f.name
            ):
                column = coll.field("tags") if arg in ("tags", "exclude_tags") else f
                if column is None or column.search != "tags":
                    errors.append({"field": arg, "reason": f"{coll.name} have no tags"})
                    continue
                words = [w.strip().lower() for v in values for w in v.split(",") if w.strip()]
                test = sql.SQL("{} && %({})s").format(sql.Identifier(column.name), sql.SQL(key))
                conds.append(sql.SQL("NOT ({})").format(test) if arg == "exclude_tags" else test)
                params[key] = words
            elif f is not None and f.search == "text":
                errors.append({"field": arg, "reason": "free text: search it with q="})
            elif f is None or f.search == "" or f.kind == "json":
                if arg not in ("order_by", "offset", "limit"):
                    errors.append({"field": arg, "reason": "not a filter of " + coll.name})
            elif arg.startswith(("min_", "max_")):
                if f.search != "range":
                    errors.append({"field": arg, "reason": f"{f.name} has no range filter"})
                    continue
                try:
                    bound = self._parse(f, values[-1])
                except ValueError as exc:
                    errors.append({"field": arg, "reason": str(exc)})
                    continue
                op = ">=" if arg.startswith("min_") else "<="
                conds.append(
                    sql.SQL("{} " + op + " %({})s").format(sql.Identifier(f.name), sql.SQL(key))
                )
                params[key] = bound
            else:
                try:
                    wanted = [self._parse(f, v) for v in values]
                except ValueError as exc:
                    errors.append({"field": arg, "reason": str(exc)})
                    continue
                conds.append(
                    sql.SQL("{} = ANY(%({})s)").format(sql.Identifier(f.name), sql.SQL(key))
                )
                params[key] = wanted
        if "deleted" not in query:
            conds.append(sql.SQL("NOT deleted"))
        return conds, params, errors

    @staticmethod
    def _parse(f, text: str):
        value = text if f.kind == "texts" else parse_value(f, text)
        if isinstance(value, dt.time):  # a bound on timestamps must name its date
            raise ValueError(f"a time bound needs its date: YYYY-MM-DDThh:mm, not {text!r}")
        return value

    def _order(self, coll: Collection, query: Mapping[str, Sequence[str]], errors: list):
        terms = []
        for term in query.get("order_by", []) or []:
            name = term.lstrip("-")
            if coll.field(name) is None and name not in ("version", "created"):
                errors.append({"field": "order_by", "reason": f"no field {name!r} to order by"})
                continue
            terms.append(
                sql.SQL("{} {}").format(
                    sql.Identifier(name), sql.SQL("DESC" if term.startswith("-") else "ASC")
                )
            )
        terms.append(sql.SQL("id ASC"))
        page = {}
        for arg, default, top in (("offset", 0, None), ("limit", 50, MAX_LIMIT)):
            raw = (query.get(arg) or [str(default)])[-1]
            try:
                value = int(raw)
                if value < 0 or (top is not None and value > top):
                    raise ValueError
            except ValueError:
                limit = f" and at most {top}" if top else ""
                errors.append({"field": arg, "reason": f"must be a whole number >= 0{limit}"})
                value = default
            page[arg] = value
        return sql.SQL(", ").join(terms), page

    def export_csv(self, name: str, query: Mapping[str, Sequence[str]] | None = None) -> str:
        """The records ``query`` selects (every page, up to 100,000) as CSV: one column per
        field (lists joined with ``;``, JSON as JSON), then version, author and time."""
        coll = collection(name)
        query = {**(query or {}), "offset": ["0"], "limit": [str(MAX_LIMIT)]}
        out = io.StringIO()
        writer = csv_cells.writer(out, lineterminator="\n")
        writer.writerow([f.name for f in coll.fields] + ["version", "author", "created"])
        for offset in range(0, 100_000, MAX_LIMIT):
            page = self.list(name, {**query, "offset": [str(offset)]})
            for item in page["items"]:
                writer.writerow(
                    [_csv_value(f, item[f.name]) for f in coll.fields]
                    + [item["version"], item["author"], item["created"].isoformat()]
                )
            if offset + MAX_LIMIT >= page["total"]:
                break
        return out.getvalue()

    def related(self, name: str, record_id: str) -> dict:
        """What a record is linked to: a tile's bundles (with their targets and stars) and
        the logs and runs that observed it; a run's nights, tiles and targets; a target's
        or star's tiles and the logs of those tiles."""
        record = self.get(name, record_id)
        if name == "tiles":
            members = record["bundles"] | {
                g: {"kind": "star", "id": s} for g, s in record["guides"].items()
            }
            targets = self.by_ids(
                "targets", [m["id"] for m in members.values() if m["kind"] == "target"]
            )
            stars = self.by_ids("stars", [m["id"] for m in members.values() if m["kind"] == "star"])
            logs = self.every("logs", {"tile_id": [record_id], "order_by": ["night", "time"]})
            runs = self.by_ids("runs", sorted({g["run_id"] for g in logs if g["run_id"]}))
            bundles = [
                {
                    "bundle": b,
                    **m,
                    "record": (targets if m["kind"] == "target" else stars).get(m["id"]),
                }
                for b, m in sorted(members.items(), key=lambda kv: (len(kv[0]), kv[0]))
            ]
            return {"tile": record, "bundles": bundles, "logs": logs, "runs": list(runs.values())}
        if name == "runs":
            logs = self.every("logs", {"run_id": [record_id], "order_by": ["night", "time"]})
            nights: dict[str, int] = {}
            for g in logs:
                nights[g["night"].isoformat()] = nights.get(g["night"].isoformat(), 0) + 1
            tiles = self.by_ids("tiles", sorted({g["tile_id"] for g in logs if g["tile_id"]}))
            target_ids = sorted(
                {
                    m["id"]
                    for t in tiles.values()
                    for m in t["bundles"].values()
                    if m["kind"] == "target"
                }
            )
            return {
                "run": record,
                "nights": [{"night": k, "logs": v} for k, v in nights.items()],
                "tiles": list(tiles.values()),
                "targets": list(self.by_ids("targets", target_ids).values()),
            }
        if name in ("targets", "stars"):
            tiles = self.every("tiles", {"member": [record_id], "order_by": ["date"]})
            logs = (
                self.every(
                    "logs",
                    {"tile_id": [t["tile_id"] for t in tiles], "order_by": ["night", "time"]},
                )
                if tiles
                else []
            )
            return {name[:-1]: record, "tiles": tiles, "logs": logs}
        return {name[:-1]: record}

    def every(self, name: str, query: dict) -> list[dict]:
        """Every current record ``query`` selects, page after page."""
        items, offset = [], 0
        while True:
            page = self.list(name, {**query, "offset": [str(offset)], "limit": [str(MAX_LIMIT)]})
            items += page["items"]
            offset += MAX_LIMIT
            if offset >= page["total"]:
                return items

    def by_ids(self, name: str, ids: list[str]) -> dict[str, dict]:
        """The current records with these ids (by their key), as {id: record}."""
        if not ids:
            return {}
        coll = collection(name)
        key = coll.key
        found = self.every(name, {key: [str(i) for i in ids]})
        return {str(r[key]): r for r in found}

    # ---- writing ----------------------------------------------------------------------------

    def create(self, name: str, data: dict, user: str) -> dict:
        """A new record (version 1); its id is its key field's value."""
        coll = collection(name)
        record = validate(coll, data)
        record_id = str(record[coll.key])
        with self._connect() as conn:
            self._writer(conn, user)
            try:
                row = self._insert(conn, coll, record_id, 1, record, user, False)
            except pg_errors.UniqueViolation:
                raise Conflict(
                    f"{coll.key} {record_id!r} exists already: edit it, or restore"
                    " it if it was deleted"
                ) from None
        return _public(coll, row)

    def create_many(self, name: str, records: Sequence[dict], user: str) -> int:
        """Many new records in one transaction (an import): all stored, or none, with every
        bad record's fields named by its position in ``records``."""
        coll = collection(name)
        clean, problems = [], []
        for k, data in enumerate(records):
            try:
                clean.append(validate(coll, data))
            except FieldErrors as exc:
                problems += [
                    {"field": f"[{k}].{e['field']}", "reason": e["reason"]} for e in exc.errors
                ]
        if problems:
            raise FieldErrors(problems)
        columns = _columns(coll)
        statement = sql.SQL(
            "INSERT INTO {} (id, version, deleted, author, {}) VALUES "
            "(%(_id)s, 1, false, %(_author)s, {})"
        ).format(
            sql.Identifier(coll.table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
        )
        with self._connect() as conn:
            self._writer(conn, user)
            try:
                with conn.cursor() as cur:
                    cur.executemany(
                        statement,
                        [
                            {**_params(coll, r), "_id": str(r[coll.key]), "_author": user}
                            for r in clean
                        ],
                    )
            except pg_errors.UniqueViolation as exc:
                raise Conflict(f"a {coll.key} exists already: {exc.diag.message_detail}") from None
        return len(clean)

    def update(
        self,
        name: str,
        record_id: str,
        changes: dict,
        user: str,
        expected_version: int | None = None,
    ) -> dict:
        """A new version with ``changes`` applied to the current one."""
        coll = collection(name)
        if coll.key in changes and str(changes[coll.key]) != str(record_id):
            raise FieldErrors([{"field": coll.key, "reason": "a record's id cannot change"}])
        validate(coll, changes, partial=True)  # each bad field named, before any lock
        with self._connect() as conn:
            self._writer(conn, user)
            current = self._current(conn, coll, record_id, expected_version)
            if current["deleted"]:
                raise Conflict(f"{name[:-1]} {record_id!r} is deleted: restore it first")
            merged = {f.name: current[f.name] for f in coll.fields} | changes
            record = validate(coll, merged)
            row = self._next(conn, coll, current, record, user, deleted=False)
        return _public(coll, row)

    def delete(
        self, name: str, record_id: str, user: str, expected_version: int | None = None
    ) -> dict:
        """Mark deleted (a new version); `restore` undoes it."""
        return self._set_deleted(name, record_id, user, True, expected_version)

    def restore(
        self, name: str, record_id: str, user: str, expected_version: int | None = None
    ) -> dict:
        return self._set_deleted(name, record_id, user, False, expected_version)

    def _set_deleted(self, name, record_id, user, deleted, expected_version):
        coll = collection(name)
        with self._connect() as conn:
            self._writer(conn, user)
            current = self._current(conn, coll, record_id, expected_version)
            if current["deleted"] == deleted:
                raise Conflict(
                    f"{name[:-1]} {record_id!r} is "
                    f"{'deleted' if deleted else 'not deleted'} already"
                )
            record = {f.name: current[f.name] for f in coll.fields}
            row = self._next(conn, coll, current, record, user, deleted=deleted)
        return _public(coll, row)

    def import_tile(self, tile_file, user: str) -> dict:
        """Store a tile file's tile, targets and stars in one transaction: new records are
        added, changed ones get a new version, identical ones are left alone. Returns the
        counts, by collection, of ``added``, ``updated`` and ``unchanged`` records."""
        from .tiles import TileFileError

        plan, problems = [], []
        for name, records in (
            ("targets", tile_file.targets),
            ("stars", tile_file.stars),
            ("tiles", [tile_file.tile]),
        ):
            coll = collection(name)
            for record in records:
                try:
                    plan.append((coll, validate(coll, record)))
                except FieldErrors as exc:
                    problems += [
                        f"{tile_file.tile.get('meta', {}).get('file', 'tile')}: "
                        f"{coll.key} {record.get(coll.key)}: {e['field']}: "
                        f"{e['reason']}"
                        for e in exc.errors
                    ]
        if problems:
            raise TileFileError(problems)
        counts = {
            name: {"added": 0, "updated": 0, "unchanged": 0}
            for name in ("targets", "stars", "tiles")
        }
        with self._connect() as conn:
            self._writer(conn, user)
            for coll, record in plan:
                counts[coll.name][self._upsert(conn, coll, record, user)] += 1
        return {"tile_id": tile_file.tile["tile_id"], **counts}

    def _upsert(self, conn, coll: Collection, record: dict, user: str) -> str:
        record_id = str(record[coll.key])
        row = conn.execute(
            sql.SQL("SELECT * FROM {} WHERE id = %s AND superseded IS NULL FOR UPDATE").format(
                sql.Identifier(coll.table)
            ),
            (record_id,),
        ).fetchone()
        if row is None:
            self._insert(conn, coll, record_id, 1, record, user, False)
            return "added"
        stored = _stored(coll, record)
        if not row["deleted"] and all(row[f.name] == stored[f.name] for f in coll.fields):
            return "unchanged"
        self._next(conn, coll, row, record, user, deleted=False)
        return "updated"

    def _current(self, conn, coll: Collection, record_id: str, expected: int | None):
        table = sql.Identifier(coll.table)
        for _ in range(100):
            row = conn.execute(
                sql.SQL("SELECT * FROM {} WHERE id = %s AND superseded IS NULL FOR UPDATE").format(
                    table
                ),
                (str(record_id),),
            ).fetchone()
            # a row another edit superseded while this one waited for its lock drops out;
            # the next statement sees the version that edit inserted
            if (
                row is not None
                or conn.execute(
                    sql.SQL("SELECT 1 FROM {} WHERE id = %s LIMIT 1").format(table),
                    (str(record_id),),
                ).fetchone()
                is None
            ):
                break
        if row is None:
            raise NotFound(f"no {coll.name[:-1]} {record_id!r}")
        if expected is not None and row["version"] != expected:
            raise Conflict(
                f"{coll.name[:-1]} {record_id!r} is at version {row['version']}, not "
                f"{expected}: someone edited it meanwhile; reload and redo"
            )
        return row

    def _next(self, conn, coll, current, record, user, deleted):
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            sql.SQL("UPDATE {} SET superseded = %s WHERE uid = %s").format(
                sql.Identifier(coll.table)
            ),
            (now, current["uid"]),
        )
        return self._insert(
            conn, coll, current["id"], current["version"] + 1, record, user, deleted
        )

    def _insert(self, conn, coll, record_id, version, record, user, deleted):
        columns = _columns(coll)
        values = _params(coll, record)
        return conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, version, deleted, author, {}) VALUES (%(_id)s,"
                " %(_version)s, %(_deleted)s, %(_author)s, {}) RETURNING *"
            ).format(
                sql.Identifier(coll.table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
            ),
            {**values, "_id": record_id, "_version": version, "_deleted": deleted, "_author": user},
        ).fetchone()


__all__ = ["MAX_LIMIT", "Conflict", "ObslogStore"]
