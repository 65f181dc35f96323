"""The target-store contract, on PostgreSQL (a real server) and on MongoDB.

MongoDB: a real server when ``HECTORNB_TEST_MONGO_URL`` is set; otherwise montydb, an
embedded engine speaking the pymongo API (no MongoDB server can be installed on these
machines). The test ids say which one ran.
"""

from __future__ import annotations

import csv
import io
import os
import uuid

import pytest

from hectornb.targets import (
    Forbidden,
    NotFound,
    TargetFilter,
    TargetStoreError,
    export_csv,
    parse_target_bytes,
)

MONGO_URL = os.environ.get("HECTORNB_TEST_MONGO_URL")
_MONGO_ID = "mongodb-server" if MONGO_URL else "mongo-api-on-montydb-no-server-here"


@pytest.fixture(params=["postgresql", _MONGO_ID])
def store(request, database_url):
    """Each contract test runs against every target store."""
    if request.param == "postgresql":
        from hectornb.targets import PostgresTargetStore

        return PostgresTargetStore()
    from hectornb.targets.mongo import MongoTargetStore, connect_database

    if MONGO_URL:
        import pymongo

        client = pymongo.MongoClient(MONGO_URL)
        name = f"hectornb_test_{uuid.uuid4().hex[:8]}"
        request.addfinalizer(lambda: client.drop_database(name))
        return MongoTargetStore(client[name])
    return MongoTargetStore(connect_database("montydb::memory:", f"t{uuid.uuid4().hex[:10]}"))


def _list(n: int, prefix: str = "T") -> bytes:
    return "".join(
        f"{prefix}{i:04d},{i * 0.01:.4f},{-30 + i * 0.001:.4f}\n" for i in range(n)
    ).encode()


def test_import_then_page_in_file_order(store, list_name):
    result = store.import_list(parse_target_bytes(_list(250), "l.csv"), list_name, "ann")
    assert (result.n_targets, result.replaced) == (250, False)
    page = store.page(list_name, offset=100, limit=100)
    assert page.total == 250
    assert [t["name"] for t in page.targets][:2] == ["T0100", "T0101"]
    assert page.label == "101–200 of 250"
    last = store.page(list_name, offset=200, limit=100)
    assert last.label == "201–250 of 250"
    info = {li.name: li for li in store.lists()}[list_name]
    assert (info.n_targets, info.owner, info.n_classified) == (250, "ann", 0)


def test_same_name_needs_overwrite(store, list_name):
    tl = parse_target_bytes(_list(3), "l.csv")
    store.import_list(tl, list_name, "ann")
    with pytest.raises(TargetStoreError, match="Overwrite"):
        store.import_list(tl, list_name, "ann")


def test_overwrite_keeps_classifications_of_surviving_names(store, list_name):
    store.import_list(parse_target_bytes(b"A,1,1\nB,2,2\nC,3,3\n", "l.csv"), list_name, "ann")
    store.classify(list_name, "A", 4, "ann")
    store.classify(list_name, "B", 2, "bob")
    store.classify(list_name, "C", 7, "ann")
    new = parse_target_bytes(b"C,3,3\nA,1.5,1\nD,4,4\n", "l2.csv")
    result = store.import_list(new, list_name, "ann", overwrite=True)
    assert (result.replaced, result.kept, result.dropped) == (True, 2, 1)
    assert "kept for 2" in result.summary() and "1 dropped" in result.summary()
    rows = {t["name"]: t for t in store.page(list_name, limit=10).targets}
    assert rows["A"]["badclass"] == 4 and rows["A"]["ra"] == 1.5
    assert rows["C"]["badclass"] == 7
    assert rows["D"]["badclass"] is None
    assert "B" not in rows
    # B's classification is retired in the history, not deleted
    with pytest.raises(NotFound):
        store.target(list_name, "B")


def test_only_the_owner_overwrites_or_deletes(store, list_name):
    tl = parse_target_bytes(b"A,1,1\n", "l.csv")
    store.import_list(tl, list_name, "ann")
    with pytest.raises(Forbidden, match="ann"):
        store.import_list(tl, list_name, "bob", overwrite=True)
    with pytest.raises(Forbidden):
        store.delete_list(list_name, "bob")
    store.delete_list(list_name, "ann")
    assert list_name not in {li.name for li in store.lists()}
    # the name is free again after a delete
    store.import_list(tl, list_name, "bob")


def test_classify_filter_and_progress(store, list_name):
    store.import_list(parse_target_bytes(_list(20), "l.csv"), list_name, "ann")
    store.classify(list_name, "T0003", 0, "ann")
    store.classify(list_name, "T0004", 4, "ann")
    store.classify(list_name, "T0005", 4, "ann")
    store.classify(list_name, "T0006", 8, "bob")

    def names(flt):
        return [t["name"] for t in store.page(list_name, flt, limit=100).targets]

    assert names(TargetFilter.parse(4)) == ["T0004", "T0005"]
    assert names(TargetFilter.parse(">0")) == ["T0004", "T0005", "T0006"]
    assert len(names(TargetFilter.parse("unclassified"))) == 16
    assert names(TargetFilter.parse("0")) == ["T0003"]
    assert store.progress(list_name, "ann") == (3, 20)
    assert store.progress(list_name, "bob") == (1, 20)
    row = store.target(list_name, "T0006")
    assert (row["badclass"], row["classified_by"]) == (8, "bob")


def test_name_filter_substring_and_regex(store, list_name):
    store.import_list(
        parse_target_bytes(b"NGC6337,1,1\nNGC5189,2,2\nTe11,3,3\nngc_7008,4,4\nA%B,5,5\n", "l.csv"),
        list_name,
        "ann",
    )

    def names(**kw):
        return [t["name"] for t in store.page(list_name, TargetFilter.parse("all", **kw)).targets]

    assert names(name="ngc") == ["NGC6337", "NGC5189", "ngc_7008"]
    assert names(name="%") == ["A%B"]  # LIKE wildcards in user text are literal
    assert names(name="_") == ["ngc_7008"]
    assert names(name=r"^NGC\d{4}$", regex=True) == ["NGC6337", "NGC5189"]
    with pytest.raises(TargetStoreError, match="invalid regular expression"):
        names(name="NGC(", regex=True)


def test_unknown_filter_is_refused():
    with pytest.raises(TargetStoreError, match="unknown classification filter"):
        TargetFilter.parse("bad")
    with pytest.raises(ValueError, match="0–8"):
        TargetFilter.parse(9)


def test_locate_finds_the_page_of_a_target(store, list_name):
    store.import_list(parse_target_bytes(_list(500), "l.csv"), list_name, "ann")
    assert store.locate(list_name, "T0321") == 321
    store.classify(list_name, "T0321", 5, "ann")
    store.classify(list_name, "T0100", 5, "ann")
    assert store.locate(list_name, "T0321", TargetFilter.parse(5)) == 1
    with pytest.raises(NotFound, match="hidden by the current filters"):
        store.locate(list_name, "T0322", TargetFilter.parse(5))
    with pytest.raises(NotFound, match="no target named"):
        store.locate(list_name, "nope")


def test_history_is_append_only_and_undo_restores(store, list_name):
    store.import_list(parse_target_bytes(b"A,1,1\nB,2,2\n", "l.csv"), list_name, "ann")
    store.classify(list_name, "A", 1, "ann")
    store.classify(list_name, "A", 2, "ann")
    store.classify(list_name, "B", 6, "ann")
    assert store.undo(list_name, "ann")["name"] == "B"
    assert store.target(list_name, "B")["badclass"] is None
    restored = store.undo(list_name, "ann")
    assert (restored["name"], restored["badclass"]) == ("A", 1)
    restored = store.undo(list_name, "ann")
    assert restored["badclass"] is None
    assert store.undo(list_name, "ann") is None  # nothing left to undo
    hist = store.history(list_name, "A")
    assert [h["badclass"] for h in hist] == [1, 2, None, None]
    assert [h["previous"] for h in hist] == [None, 1, 2, 1]
    assert hist[2]["undoes"] == hist[1]["id"] and hist[3]["undoes"] == hist[0]["id"]


def test_several_classifiers_latest_shown_and_disagreement(store, list_name):
    store.import_list(parse_target_bytes(b"A,1,1\nB,2,2\n", "l.csv"), list_name, "ann")
    store.classify(list_name, "A", 4, "ann")
    store.classify(list_name, "A", 3, "bob")
    store.classify(list_name, "B", 0, "ann")
    store.classify(list_name, "B", 0, "bob")
    a = store.target(list_name, "A")
    assert (a["badclass"], a["classified_by"], a["n_classifiers"], a["disagree"]) == (
        3,
        "bob",
        2,
        True,
    )
    assert store.target(list_name, "B")["disagree"] is False
    assert [t["name"] for t in store.page(list_name, TargetFilter.parse("disagree")).targets] == [
        "A"
    ]
    # bob takes back his last two: ann's class shows again and they no longer disagree
    assert store.undo(list_name, "bob")["name"] == "B"
    assert store.undo(list_name, "bob")["name"] == "A"
    a = store.target(list_name, "A")
    assert (a["badclass"], a["classified_by"], a["disagree"]) == (4, "ann", False)


def test_export_csv_columns_and_precision(store, list_name):
    store.import_list(
        parse_target_bytes(b"NGC6337,17:22:15.67,-38:29:01.73\nB,2,2\n", "l.csv"),
        list_name,
        "ann",
    )
    store.classify(list_name, "NGC6337", 4, "ann")
    store.classify(list_name, "NGC6337", 5, "bob")
    rows = list(csv.DictReader(io.StringIO(export_csv(store, list_name))))
    assert list(rows[0]) == ["name", "ra", "dec", "badclass", "user", "classified_at"]
    assert rows[0]["ra"] == "260.56529167" and rows[0]["dec"] == "-38.48381389"
    assert (rows[0]["badclass"], rows[0]["user"]) == ("5", "bob")
    assert rows[0]["classified_at"].endswith("Z") and "T" in rows[0]["classified_at"]
    assert (rows[1]["badclass"], rows[1]["user"], rows[1]["classified_at"]) == ("", "", "")
    wide = list(csv.DictReader(io.StringIO(export_csv(store, list_name, per_user=True))))
    assert (wide[0]["badclass:ann"], wide[0]["badclass:bob"]) == ("4", "5")


def test_classify_rejects_bad_class_and_unknown_target(store, list_name):
    store.import_list(parse_target_bytes(b"A,1,1\n", "l.csv"), list_name, "ann")
    with pytest.raises(ValueError, match="0–8"):
        store.classify(list_name, "A", 9, "ann")
    with pytest.raises(NotFound):
        store.classify(list_name, "Z", 1, "ann")
    with pytest.raises(NotFound):
        store.classify("no-such-list", "A", 1, "ann")
    assert store.history(list_name, "A") == []


def test_resume_point_is_the_users_last_classification(store, list_name):
    store.import_list(parse_target_bytes(_list(30), "l.csv"), list_name, "ann")
    assert store.last_classified(list_name, "ann") is None
    store.classify(list_name, "T0007", 1, "ann")
    store.classify(list_name, "T0021", 2, "ann")
    store.classify(list_name, "T0003", 3, "bob")
    assert store.last_classified(list_name, "ann") == "T0021"
    assert store.last_classified(list_name, "bob") == "T0003"
    # an overwrite that drops T0021 moves the resume point back to a target that exists
    store.import_list(parse_target_bytes(_list(20), "l.csv"), list_name, "ann", overwrite=True)
    assert store.last_classified(list_name, "ann") == "T0007"
