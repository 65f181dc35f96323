"""The target-store contract on MongoDB, for sites that keep target lists there.

Selected with ``HECTORNB_TARGETS_URL=mongodb://host/db`` (``montydb:PATH`` selects montydb,
an embedded engine speaking the pymongo API, used by the tests when no MongoDB server runs).

MongoDB gives atomic writes per document, so:

- an import writes its targets under a new generation number and then flips the list
  document to that generation in one update: readers see the old list or the new one,
  never a mixture; a failed import leaves only unreferenced rows, removed on the next one;
- a list name is claimed by inserting ``{_id: name}`` into ``target_list_names`` (unique);
- a classification appends to ``classifications`` and upserts the user's latest class; the
  target's shown class is updated only if the classification is newer than the one shown
  (ordered by a global counter, since BSON times have only millisecond precision).
  Under truly simultaneous classifications of one target, ``n_classifiers`` and
  ``disagree`` may lag by one classification until that target is classified again.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from urllib.parse import urlparse

from .badclass import badclass as check_badclass
from .model import (
    TARGET_FIELDS,
    Forbidden,
    ImportResult,
    ListInfo,
    NotFound,
    Page,
    TargetFilter,
    TargetStoreError,
)
from .parse import TargetList


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value):
    # pymongo and montydb return naive datetimes in UTC
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _target_out(doc: dict) -> dict:
    out = {k: doc.get(k) for k in TARGET_FIELDS}
    out["classified_at"] = _utc(out["classified_at"])
    out["n_classifiers"] = out["n_classifiers"] or 0
    out["disagree"] = bool(out["disagree"])
    return out


def _duplicate_key_errors() -> tuple[type[Exception], ...]:
    import pymongo.errors

    errors: tuple[type[Exception], ...] = (pymongo.errors.DuplicateKeyError,)
    try:
        import montydb.errors

        errors += (montydb.errors.DuplicateKeyError,)
    except ImportError:
        pass
    return errors


@functools.cache
def client(url: str):
    """One client per URL for the process (pymongo pools connections inside a client)."""
    if url.startswith("montydb:"):
        from montydb import MontyClient, set_storage

        path = url[len("montydb:") :] or ":memory:"
        if path != ":memory:":
            set_storage(path, storage="sqlite")
        return MontyClient(path)
    import pymongo

    return pymongo.MongoClient(url)


def connect_database(url: str, name: str | None = None):
    """The database of a ``mongodb://…/db`` or ``montydb:PATH`` URL (default ``hectornb``)."""
    default = "hectornb" if url.startswith("montydb:") else urlparse(url).path.lstrip("/")
    return client(url)[name or default or "hectornb"]


class MongoTargetStore:
    """Target lists and classifications in MongoDB (same contract as the PostgreSQL store)."""

    def __init__(self, url_or_database):
        self.db = (
            connect_database(url_or_database)
            if isinstance(url_or_database, str)
            else url_or_database
        )
        self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        self.db.targets.create_index([("list_id", 1), ("gen", 1), ("seq", 1)])
        self.db.targets.create_index([("list_id", 1), ("gen", 1), ("name", 1)])
        self.db.classifications.create_index([("list_id", 1), ("target_name", 1)])
        self.db.user_classifications.create_index([("list_id", 1), ("username", 1)])

    def _next_order(self) -> int:
        """A global, strictly increasing number: BSON datetimes have only millisecond
        precision, so two classifications in one millisecond cannot be ordered by time."""
        from pymongo import ReturnDocument

        doc = self.db.counters.find_one_and_update(
            {"_id": "classification"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["n"])

    # ---- lists ---------------------------------------------------------------------------

    def _list(self, name: str) -> dict:
        doc = self.db.target_lists.find_one({"name": name, "deleted_at": None})
        if doc is None:
            raise NotFound(f"no target list named {name!r}")
        return doc

    def import_list(
        self, targets: TargetList, name: str, owner: str, overwrite: bool = False
    ) -> ImportResult:
        name = name.strip()
        if not name:
            raise TargetStoreError("a target list needs a name")
        existing = self.db.target_lists.find_one({"name": name, "deleted_at": None})
        if existing is not None and not overwrite:
            raise TargetStoreError(
                f"a target list named {name!r} exists; choose Overwrite to replace it"
            )
        if existing is not None and existing["owner"] != owner:
            raise Forbidden(f"only {existing['owner']}, who loaded {name!r}, may overwrite it")
        if existing is None:
            try:
                self.db.target_list_names.insert_one({"_id": name})
            except _duplicate_key_errors() as exc:
                raise TargetStoreError(
                    f"a target list named {name!r} exists; choose Overwrite to replace it"
                ) from exc
            list_id, gen = uuid.uuid4().hex, 1
        else:
            list_id, gen = existing["_id"], existing["gen"] + 1
        if existing is not None:  # rows of an earlier overwrite that failed half-way
            self.db.targets.delete_many({"list_id": list_id, "gen": gen})
        self.db.targets.insert_many(
            [
                {
                    "list_id": list_id,
                    "gen": gen,
                    "seq": i,
                    "name": n,
                    "ra": ra,
                    "dec": dec,
                    "line": line,
                    "badclass": None,
                    "classified_by": None,
                    "classified_at": None,
                    "n_classifiers": 0,
                    "disagree": False,
                    "order": None,
                }
                for i, (n, ra, dec, line) in enumerate(
                    zip(
                        targets.names,
                        targets.ra.tolist(),
                        targets.dec.tolist(),
                        targets.lines.tolist(),
                        strict=True,
                    )
                )
            ]
        )
        kept = dropped = 0
        if existing is not None:
            kept, dropped = self._carry_over(list_id, gen, set(targets.names))
        now = _now()
        if existing is None:
            self.db.target_lists.insert_one(
                {
                    "_id": list_id,
                    "name": name,
                    "owner": owner,
                    "gen": gen,
                    "n_targets": len(targets),
                    "source_filename": targets.filename,
                    "created_at": now,
                    "replaced_at": None,
                    "deleted_at": None,
                }
            )
        else:
            self.db.target_lists.update_one(
                {"_id": list_id},
                {
                    "$set": {
                        "gen": gen,
                        "n_targets": len(targets),
                        "replaced_at": now,
                        "source_filename": targets.filename,
                    }
                },
            )
            self.db.targets.delete_many({"list_id": list_id, "gen": {"$lt": gen}})
        return ImportResult(name, len(targets), existing is not None, kept, dropped)

    def _carry_over(self, list_id: str, gen: int, names: set[str]) -> tuple[int, int]:
        gone = {
            d["target_name"]
            for d in self.db.user_classifications.find({"list_id": list_id})
            if d["target_name"] not in names
        }
        if gone:
            self.db.user_classifications.delete_many(
                {"list_id": list_id, "target_name": {"$in": sorted(gone)}}
            )
            self.db.classifications.update_many(
                {"list_id": list_id, "target_name": {"$in": sorted(gone)}, "dropped_at": None},
                {"$set": {"dropped_at": _now()}},
            )
        kept = {d["target_name"] for d in self.db.user_classifications.find({"list_id": list_id})}
        for target in kept:
            self._refresh_target(list_id, gen, target, force=True)
        return len(kept), len(gone)

    def lists(self) -> list[ListInfo]:
        out = []
        for d in self.db.target_lists.find({"deleted_at": None}).sort("created_at", -1):
            n_classified = self.db.targets.count_documents(
                {"list_id": d["_id"], "gen": d["gen"], "badclass": {"$ne": None}}
            )
            out.append(
                ListInfo(
                    d["name"],
                    d["owner"],
                    d["n_targets"],
                    n_classified,
                    _utc(d["created_at"]),
                    _utc(d["replaced_at"]),
                    d["source_filename"],
                )
            )
        return out

    def delete_list(self, name: str, user: str) -> None:
        doc = self._list(name)
        if doc["owner"] != user:
            raise Forbidden(f"only {doc['owner']}, who loaded {name!r}, may delete it")
        self.db.target_lists.update_one(
            {"_id": doc["_id"]}, {"$set": {"deleted_at": _now(), "deleted_by": user}}
        )
        self.db.target_list_names.delete_one({"_id": name})

    # ---- browsing ------------------------------------------------------------------------

    def _query(self, doc: dict, flt: TargetFilter) -> dict:
        q: dict = {"list_id": doc["_id"], "gen": doc["gen"]}
        b = flt.badclass
        if isinstance(b, int):
            q["badclass"] = b
        elif b == "unclassified":
            q["badclass"] = None
        elif b == ">0":
            q["badclass"] = {"$gt": 0}
        elif b == "disagree":
            q["disagree"] = True
        if flt.name:
            if flt.regex:
                try:
                    re.compile(flt.name)
                except re.error as exc:
                    raise TargetStoreError(f"invalid regular expression: {exc}") from None
                q["name"] = {"$regex": flt.name, "$options": "i"}
            else:
                q["name"] = {"$regex": re.escape(flt.name), "$options": "i"}
        return q

    def page(
        self, name: str, flt: TargetFilter | None = None, offset: int = 0, limit: int = 20
    ) -> Page:
        flt = flt or TargetFilter()
        offset, limit = max(0, int(offset)), max(1, min(int(limit), 1000))
        doc = self._list(name)
        q = self._query(doc, flt)
        total = self.db.targets.count_documents(q)
        if offset >= total and total:
            offset = (total - 1) // limit * limit
        rows = self.db.targets.find(q).sort("seq", 1).skip(offset).limit(limit)
        return Page(total, offset, [_target_out(r) for r in rows])

    def locate(self, name: str, target: str, flt: TargetFilter | None = None) -> int:
        flt = flt or TargetFilter()
        doc = self._list(name)
        row = self.db.targets.find_one(
            {"list_id": doc["_id"], "gen": doc["gen"], "name": target.strip()}
        )
        if row is None:
            raise NotFound(f"no target named {target!r} in {name!r}")
        q = self._query(doc, flt)
        if not self.db.targets.count_documents({**q, "seq": row["seq"]}):
            raise NotFound(f"{target!r} is hidden by the current filters")
        return self.db.targets.count_documents({**q, "seq": {"$lt": row["seq"]}})

    def target(self, name: str, target: str) -> dict:
        doc = self._list(name)
        return _target_out(self._target_doc(doc, target))

    def _target_doc(self, doc: dict, target: str) -> dict:
        row = self.db.targets.find_one({"list_id": doc["_id"], "gen": doc["gen"], "name": target})
        if row is None:
            raise NotFound(f"no target named {target!r}")
        return row

    # ---- classifying ---------------------------------------------------------------------

    def classify(self, name: str, target: str, value: int | None, user: str) -> dict:
        if value is not None:
            check_badclass(value)
        doc = self._list(name)
        self._target_doc(doc, target)
        uc_id = f"{doc['_id']}\x1f{target}\x1f{user}"
        prev = self.db.user_classifications.find_one({"_id": uc_id})
        self.db.classifications.insert_one(
            {
                "list_id": doc["_id"],
                "target_name": target,
                "username": user,
                "badclass": value,
                "previous": prev["badclass"] if prev else None,
                "undoes": None,
                "classified_at": _now(),
                "order": self._next_order(),
                "dropped_at": None,
            }
        )
        self._set_user_state(doc["_id"], target, user)
        return self._refresh_target(doc["_id"], doc["gen"], target)

    def _effective(self, list_id: str, target: str | None, user: str) -> list[dict]:
        """The user's classifications still in effect, newest first."""
        q = {"list_id": list_id, "username": user, "dropped_at": None}
        if target is not None:
            q["target_name"] = target
        docs = list(self.db.classifications.find(q))
        undone = {d["undoes"] for d in docs if d.get("undoes") is not None}
        live = [d for d in docs if d.get("undoes") is None and d["_id"] not in undone]
        return sorted(live, key=lambda d: d["order"], reverse=True)

    def undo(self, name: str, user: str) -> dict | None:
        doc = self._list(name)
        live = self._effective(doc["_id"], None, user)
        if not live:
            return None
        last = live[0]
        target = last["target_name"]
        current = self.db.user_classifications.find_one(
            {"_id": f"{doc['_id']}\x1f{target}\x1f{user}"}
        )
        self.db.classifications.insert_one(
            {
                "list_id": doc["_id"],
                "target_name": target,
                "username": user,
                "badclass": None,
                "previous": current["badclass"] if current else None,
                "undoes": last["_id"],
                "classified_at": _now(),
                "order": self._next_order(),
                "dropped_at": None,
            }
        )
        self._set_user_state(doc["_id"], target, user)
        return self._refresh_target(doc["_id"], doc["gen"], target, force=True)

    def _set_user_state(self, list_id: str, target: str, user: str) -> None:
        live = self._effective(list_id, target, user)
        uc_id = f"{list_id}\x1f{target}\x1f{user}"
        if not live or live[0]["badclass"] is None:
            self.db.user_classifications.delete_one({"_id": uc_id})
        else:
            self.db.user_classifications.replace_one(
                {"_id": uc_id},
                {
                    "_id": uc_id,
                    "list_id": list_id,
                    "target_name": target,
                    "username": user,
                    "badclass": live[0]["badclass"],
                    "classified_at": live[0]["classified_at"],
                    "order": live[0]["order"],
                },
                upsert=True,
            )

    def _refresh_target(self, list_id: str, gen: int, target: str, force: bool = False) -> dict:
        ucs = list(self.db.user_classifications.find({"list_id": list_id, "target_name": target}))
        latest = max(ucs, key=lambda d: d["order"]) if ucs else None
        state = {
            "badclass": latest["badclass"] if latest else None,
            "classified_by": latest["username"] if latest else None,
            "classified_at": latest["classified_at"] if latest else None,
            "n_classifiers": len(ucs),
            "disagree": len({d["badclass"] for d in ucs}) > 1,
            "order": latest["order"] if latest else None,
        }
        q = {"list_id": list_id, "gen": gen, "name": target}
        if not force and latest is not None:
            # never replace a newer classification shown by a concurrent writer
            q["$or"] = [{"order": None}, {"order": {"$lte": latest["order"]}}]
        self.db.targets.update_one(q, {"$set": state})
        return _target_out(
            self.db.targets.find_one({"list_id": list_id, "gen": gen, "name": target})
        )

    # ---- reading back --------------------------------------------------------------------

    def progress(self, name: str, user: str) -> tuple[int, int]:
        doc = self._list(name)
        done = self.db.user_classifications.count_documents(
            {"list_id": doc["_id"], "username": user}
        )
        return done, doc["n_targets"]

    def last_classified(self, name: str, user: str) -> str | None:
        doc = self._list(name)
        docs = self.db.classifications.find(
            {"list_id": doc["_id"], "username": user, "undoes": None, "dropped_at": None}
        )
        latest = max(docs, key=lambda d: d["order"], default=None)
        return latest["target_name"] if latest else None

    def history(self, name: str, target: str) -> list[dict]:
        doc = self._list(name)
        docs = self.db.classifications.find({"list_id": doc["_id"], "target_name": target})
        out = [
            {
                "id": d["_id"],
                "username": d["username"],
                "badclass": d["badclass"],
                "previous": d["previous"],
                "undoes": d.get("undoes"),
                "classified_at": _utc(d["classified_at"]),
                "dropped_at": _utc(d.get("dropped_at")),
                "order": d["order"],
            }
            for d in docs
        ]
        out.sort(key=lambda h: h.pop("order"))
        return out

    def export_rows(self, name: str) -> tuple[list[dict], dict[str, dict[str, int]]]:
        doc = self._list(name)
        rows = [
            _target_out(r)
            for r in self.db.targets.find({"list_id": doc["_id"], "gen": doc["gen"]}).sort("seq", 1)
        ]
        per_user: dict[str, dict[str, int]] = {}
        for d in self.db.user_classifications.find({"list_id": doc["_id"]}):
            per_user.setdefault(d["username"], {})[d["target_name"]] = d["badclass"]
        return rows, per_user
