"""The ``hectornb targets`` command line, run as a user runs it (a subprocess), exactly as
scripts rely on it: exit codes, output lines, nothing stored on error."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest


def run(*args: str, user: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hectornb.cli", *args]
    if user:
        cmd += ["--user", user]
    return subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), timeout=120)


@pytest.fixture()
def good_file(tmp_path):
    path = tmp_path / "sample_list.csv"
    path.write_text(
        "# Hector sample\nNGC6337,17:22:15.67,-38:29:01.73\nNGC5189,13:33:32.88,-65:58:27.04\n"
        "NGC6326,17 20 46.252, -51 45 15.17\n"
    )
    return path


def test_validate_good_and_bad(tmp_path, good_file, database_url):
    ok = run("targets", "validate", str(good_file))
    assert ok.returncode == 0 and ok.stdout.strip() == "3 targets"

    bad = tmp_path / "bad.csv"
    bad.write_text("A,1,2\nB,400,2\nC,1\nA,3,4\n")
    res = run("targets", "validate", str(bad))
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert [ln.split(":")[1] for ln in lines] == ["2", "3", "4"]
    assert all(ln.startswith(f"{bad}:") for ln in lines)


def test_import_classify_export_roundtrip(good_file, list_name, database_url):
    res = run("targets", "import", str(good_file), "--name", list_name, user="ann")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"{list_name}: 3 targets"
    assert list_name in run("targets", "lists").stdout

    res = run("targets", "classify", list_name, "NGC5189", "7", user="ann")
    assert res.returncode == 0 and "BADCLASS 7 (ann)" in res.stdout
    assert run("targets", "classify", list_name, "NGC5189", "9", user="ann").returncode == 1
    assert run("targets", "classify", list_name, "nope", "1", user="ann").returncode == 1

    out = run("targets", "export", list_name)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["name"] for r in rows] == ["NGC6337", "NGC5189", "NGC6326"]
    assert (rows[1]["badclass"], rows[1]["user"]) == ("7", "ann")
    assert len(rows[1]["ra"].split(".")[1]) >= 7


def test_import_without_overwrite_refuses_and_keeps_the_old_list(
    good_file, list_name, database_url
):
    assert run("targets", "import", str(good_file), "--name", list_name, user="ann").returncode == 0
    again = run("targets", "import", str(good_file), "--name", list_name, user="ann")
    assert again.returncode == 1 and "Overwrite" in again.stderr
    res = run("targets", "import", str(good_file), "--name", list_name, "--overwrite", user="ann")
    assert res.returncode == 0 and "replaced" in res.stdout


def test_bad_file_stores_nothing(tmp_path, list_name, database_url):
    bad = tmp_path / "bad.csv"
    bad.write_text("A,1,2\n" * 3 + "B,12:60:00,0\n")
    res = run("targets", "import", str(bad), "--name", list_name, user="ann")
    assert res.returncode == 1
    assert f"{bad}:2: duplicate" in res.stderr and f"{bad}:4: RA" in res.stderr
    assert list_name not in run("targets", "lists").stdout


def test_delete(good_file, list_name, database_url):
    run("targets", "import", str(good_file), "--name", list_name, user="ann")
    assert run("targets", "delete", list_name, user="bob").returncode == 1
    assert run("targets", "delete", list_name, user="ann").returncode == 0
    assert list_name not in run("targets", "lists").stdout


def _classify_many(args):
    """One classifier process: its own connections, its own user."""
    list_name, user, names = args
    from hectornb.targets import PostgresTargetStore

    store = PostgresTargetStore()
    for i, name in enumerate(names):
        store.classify(list_name, name, (i + len(user)) % 9, user)
    return len(names)


def test_concurrent_classifiers_lose_nothing(store, list_name):
    from hectornb.targets import parse_target_bytes

    n = 60
    store.import_list(
        parse_target_bytes("".join(f"T{i},{i},0\n" for i in range(n)).encode(), "c.csv"),
        list_name,
        "ann",
    )
    names = [f"T{i}" for i in range(n)]
    users = ["u1", "u2", "u3", "u4"]
    # every process classifies every target: maximum contention on the same rows
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = list(pool.map(_classify_many, [(list_name, u, names) for u in users]))
    assert done == [n] * 4
    for user in users:
        assert store.progress(list_name, user) == (n, n)
    for name in names:
        hist = store.history(list_name, name)
        assert sorted(h["username"] for h in hist) == users
        row = store.target(list_name, name)
        assert row["n_classifiers"] == 4
        # the card shows the latest classification stored
        latest = max(hist, key=lambda h: h["classified_at"])
        assert (row["badclass"], row["classified_by"]) == (latest["badclass"], latest["username"])


def test_targets_url_selects_the_mongodb_store(good_file, tmp_path, monkeypatch, database_url):
    """HECTORNB_TARGETS_URL picks the MongoDB store (here montydb on disk: no MongoDB server
    can be installed on these machines); lists and classifications persist across commands."""
    monkeypatch.setenv("HECTORNB_TARGETS_URL", f"montydb:{tmp_path / 'monty'}")
    assert run("targets", "import", str(good_file), "--name", "pne", user="ann").returncode == 0
    assert run("targets", "classify", "pne", "NGC6326", "5", user="bob").returncode == 0
    rows = list(csv.DictReader(io.StringIO(run("targets", "export", "pne").stdout)))
    assert [(r["name"], r["badclass"], r["user"]) for r in rows] == [
        ("NGC6337", "", ""),
        ("NGC5189", "", ""),
        ("NGC6326", "5", "bob"),
    ]
    monkeypatch.delenv("HECTORNB_TARGETS_URL")
    assert "pne\t" not in run("targets", "lists").stdout  # not in PostgreSQL
