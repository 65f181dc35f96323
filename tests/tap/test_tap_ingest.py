"""Publishing tables: ``hectornb tap ingest`` from VOTable, FITS, CSV and Parquet with units,
UCDs and descriptions (from the file and from a YAML file), the position index, refusals
with a clear message, and re-ingest replacing a table atomically under readers."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from astropy.table import Table

HECTORNB = [sys.executable, "-m", "hectornb.cli"]


def catalogue(n: int, seed: int = 1) -> Table:
    rng = np.random.default_rng(seed)
    t = Table(
        {
            "ObjID": np.arange(n, dtype=np.int64),
            "RA": rng.uniform(0, 360, n),
            "DEC": rng.uniform(-90, 90, n),
            "Rmag": rng.uniform(12, 20, n).astype(np.float32),
            "Kind": rng.choice(["galaxy", "star"], n),
        }
    )
    t["RA"].unit = t["DEC"].unit = "deg"
    t["Rmag"].unit = "mag"
    t["Rmag"].description = "r magnitude"
    return t


def columns(service, name: str) -> dict:
    result = service.query(
        "SELECT column_name, unit, ucd, description, indexed FROM "
        f"TAP_SCHEMA.columns WHERE table_name = '{name}'",
        None,
    )
    return {r[0]: r[1:] for r in result.rows}


@pytest.mark.parametrize("fmt", ["vot", "fits", "csv", "parquet"])
def test_ingest_each_format_from_the_command_line(database_url, tmp_path, fmt):
    from hectornb.tap import TapService

    t = catalogue(50)
    path = tmp_path / f"cat.{fmt}"
    t.write(path, format={"vot": "votable", "csv": "ascii.csv"}.get(fmt) or fmt)
    meta = tmp_path / "meta.yaml"
    meta.write_text(
        "description: a test catalogue\ncolumns:\n"
        "  RA: {unit: deg, ucd: pos.eq.ra;meta.main, description: right ascension}\n"
        "  DEC: {ucd: pos.eq.dec;meta.main, unit: deg}\n"
        "  Kind: {description: galaxy or star}\n"
    )
    name = f"ingest.cat_{fmt}"
    r = subprocess.run(
        [*HECTORNB, "tap", "ingest", str(path), "--table", name, "--meta", str(meta)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert f"{name}: 5 columns published; positions ra, dec indexed" in r.stdout
    service = TapService()
    cols = columns(service, name)
    assert set(cols) == {"objid", "ra", "dec", "rmag", "kind"}  # regular identifiers
    assert cols["ra"][:3] == ("deg", "pos.eq.ra;meta.main", "right ascension")
    assert cols["ra"][3] == 1 and cols["dec"][3] == 1 and cols["rmag"][3] == 0
    assert cols["kind"][2] == "galaxy or star"
    if fmt != "csv":  # CSV carries no units; the others do
        assert cols["rmag"][0] == "mag"
    got = service.query(f"SELECT objid, ra, kind FROM {name} ORDER BY objid", None)
    assert [r[0] for r in got.rows] == list(range(50))
    assert [r[1] for r in got.rows] == pytest.approx(list(t["RA"]), abs=1e-12)
    assert [r[2] for r in got.rows] == list(t["Kind"])
    tables = subprocess.run(
        [*HECTORNB, "tap", "tables"], capture_output=True, text=True, timeout=60
    ).stdout
    assert f"{name}\t5 columns\tpublic\ta test catalogue" in tables


def test_refusals_say_why_and_store_nothing(database_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n")
    for args, message in (
        ([str(bad), "--table", "ok.name"], "cannot read it as a table"),
        ([str(tmp_path / "missing.vot"), "--table", "ok.name"], "no such file"),
        ([str(bad), "--table", "noschema"], "give SCHEMA.TABLE"),
        ([str(bad), "--table", "tap_schema.evil"], "reserved"),
        ([str(bad), "--table", "x.drop;table"], "give SCHEMA.TABLE"),
    ):
        r = subprocess.run(
            [*HECTORNB, "tap", "ingest", *args], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
    from hectornb.tap import TapService

    assert "ok.name" not in {t.name for t in TapService().tables()}


def test_reingest_replaces_atomically_while_readers_query(database_url):
    from hectornb.tap import TapService, ingest_table

    name = "ingest.swap"
    ingest_table(catalogue(1000, seed=1), name)
    service = TapService()
    counts: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                counts.append(service.query(f"SELECT COUNT(*) FROM {name}", None).rows[0][0])
            except Exception as exc:  # any failure is what the test looks for
                errors.append(str(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for th in threads:
        th.start()
    try:
        for k in range(3):
            ingest_table(catalogue(2000 if k % 2 == 0 else 1000, seed=k + 2), name)
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert errors == []
    assert set(counts) <= {1000, 2000} and len(counts) > 10
    assert service.query(f"SELECT COUNT(*) FROM {name}", None).rows[0][0] == 2000


def test_reader_role_made_after_publishing_is_granted_the_tables_at_start(database_url):
    """An administrator who creates ``hectornb_tap_reader`` by hand after tables were
    published (a database user without CREATEROLE) needs only restart the platform."""
    import psycopg

    from hectornb.tap import TapService, ingest_table

    ingest_table(catalogue(5, seed=7), "late.granted", by="test")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("REVOKE SELECT ON late.granted FROM hectornb_tap_reader")
        assert not conn.execute(
            "SELECT has_table_privilege('hectornb_tap_reader', 'late.granted', 'SELECT')"
        ).fetchone()[0]
    service = TapService()  # what a start of the platform does
    assert len(service.query("SELECT objid FROM late.granted", None).rows) == 5
    with psycopg.connect(database_url) as conn:
        assert conn.execute(
            "SELECT has_table_privilege('hectornb_tap_reader', 'late.granted', 'SELECT')"
        ).fetchone()[0]


def test_a_reader_role_not_granted_to_the_platform_is_not_used(database_url, monkeypatch, caplog):
    """Roles belong to the whole PostgreSQL server: another platform (or an administrator)
    may have made ``hectornb_tap_reader`` without granting it to this platform's user, which
    then cannot take it; queries must still work, and the log must say what to run."""
    import logging
    import uuid as _uuid

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from hectornb.tap import TapService

    name = f"nocreaterole_{_uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN NOCREATEROLE")
        conn.execute(f"CREATE DATABASE {name} OWNER {name}")
    params = conninfo_to_dict(database_url)
    params.update(user=name, dbname=name)
    monkeypatch.setenv("HECTORNB_DATABASE_URL", make_conninfo(**params))
    with caplog.at_level(logging.WARNING, logger="hectornb.tap.service"):
        service = TapService()
    assert service._reader is False
    assert "not granted to this database user" in caplog.text
    assert "GRANT hectornb_tap_reader TO" in caplog.text and "CREATE ROLE" not in caplog.text
    rows = service.query("SELECT TOP 2 table_name FROM TAP_SCHEMA.tables", None).rows
    assert len(rows) == 2
