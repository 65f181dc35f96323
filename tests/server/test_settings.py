"""Each setting is declared once: its variable, default, parsing and the README's table all
come from that declaration."""

from __future__ import annotations

import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from hectornb.config import Settings, settings_table, variable

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def test_the_readmes_table_is_the_declarations():
    assert settings_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_and_has_its_variable():
    names = [variable(f) for f in fields(Settings)]
    assert len(set(names)) == len(names)
    assert "HECTORNB_CATALOGUE_RADIUS" in names and "HECTORNB_2DFDR_IMAGE" in names
    assert all(f.metadata["doc"] for f in fields(Settings))
    assert "HECTORNB_TAP_SYNC_BYTES" in Settings.__doc__  # help(Settings) lists them


def test_values_are_read_as_their_types_with_their_floors(tmp_path):
    s = Settings.from_env(
        {
            "HECTORNB_HOME": str(tmp_path),
            "HECTORNB_PORT": "9000",
            "HECTORNB_CATALOGUES": "gaia, hipparcos,",
            "HECTORNB_TOKEN_DAYS": "0",
            "HECTORNB_TAP_ANONYMOUS": "off",
            "HECTORNB_SMTP_STARTTLS": "yes",
            "HECTORNB_CATALOGUE_MAG_LIMIT": "19.5",
            "HECTORNB_PUBLIC_URL": "https://hnb.example/",
            "HECTORNB_POOL_SIZE": "3",
            "HECTORNB_NOTEBOOKS": str(tmp_path),
            "HECTORNB_DATABASE_URL": "",  # empty is unset
        }
    )
    assert s.home == tmp_path and s.port == 9000
    assert s.catalogues == ("gaia", "hipparcos")
    assert s.token_days == 1  # a token lives at least a day
    assert s.tap_anonymous is False and s.smtp_starttls is True
    assert s.catalogue_mag_limit == 19.5 and s.public_url == "https://hnb.example"
    assert s.pool_size == 3 and s.notebooks == tmp_path and s.database_url is None
    defaults = Settings.from_env({"HECTORNB_HOME": str(tmp_path)})
    assert defaults.tap_maxrec == 20_000 and defaults.tap_anonymous is True
    assert defaults.catalogues == ("gaia", "openngc") and defaults.notebooks is None


def test_a_setting_that_cannot_be_read_says_which():
    with pytest.raises(ValueError, match="HECTORNB_TAP_ANONYMOUS must be true or false"):
        Settings.from_env({"HECTORNB_TAP_ANONYMOUS": "perhaps"})


def test_the_command_prints_the_table():
    out = subprocess.run(
        [str(BIN / "hectornb"), "config", "--table"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == settings_table()


def test_the_statement_limit_bounds_every_store_not_one(database_url, tmp_path):
    """HECTORNB_STATEMENT_TIMEOUT_MS is a property of each pooled connection: the observing
    log's store (which never sets it) is bounded, and only an operator's bulk load lifts it."""
    import psycopg

    from hectornb.db import engine
    from hectornb.obslog.store import ObslogStore

    settings = Settings(home=tmp_path, database_url=database_url, statement_timeout_ms=300)
    with pytest.raises(psycopg.errors.QueryCanceled), ObslogStore(settings)._connect() as conn:
        conn.execute("SELECT pg_sleep(2)")
    with engine.connect(settings, unlimited=True) as conn:
        assert conn.execute("SELECT pg_sleep(0.5), 1 AS ok").fetchone()["ok"] == 1
    with engine.connect(settings) as conn:  # lifted for that transaction alone
        assert conn.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "300ms"
