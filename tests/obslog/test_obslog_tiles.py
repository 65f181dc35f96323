"""Hector tile files, built to the documented format, into the observing log (real
PostgreSQL): the tile with its 21 hexabundles, guide bundles and sky fibres, its targets and
stars; a second import changes nothing; a bad file is rejected whole with line numbers."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from support.hector_tiles import tile_text

from hectornb.obslog import ObslogStore
from hectornb.obslog.schema import BUNDLES
from hectornb.obslog.tiles import TileFileError, read_tile_file


@pytest.fixture()
def observer(database_url):
    user = "observer-" + uuid.uuid4().hex[:6]
    ObslogStore().set_observer(user)
    return user


def test_tile_file_imports_tile_targets_and_stars(tmp_path, observer):
    base = uuid.uuid4().int >> 72
    path = tmp_path / "Tile_G15_T025_251001_251005.csv"
    path.write_text(tile_text(base, f"G15_T025_{base}"))
    store = ObslogStore()
    counts = store.import_tile(read_tile_file(path), observer)
    assert counts["targets"]["added"] == 19 and counts["stars"]["added"] == 8  # 2 std + 6 guide
    tile = store.get("tiles", counts["tile_id"])
    assert counts["tile_id"] == f"T-G15_T025_{base}-150.1200-2.2100-2025-10-01"
    assert sorted(tile["bundles"]) == list(BUNDLES)
    assert tile["bundles"]["A"]["kind"] == "target" and tile["bundles"]["A"]["id"] == str(base)
    assert tile["bundles"]["H"] == {**tile["bundles"]["H"], "kind": "star", "id": f"S{base + 7}"}
    assert tile["guides"] == {f"GS{g}": f"G{base + g}" for g in range(1, 7)}
    assert [s["name"] for s in tile["sky"]] == [f"Sky-A{s}-1" for s in range(1, 6)]
    assert len(tile["members"]) == 27 and str(base) in tile["members"]
    galaxy = store.get("targets", str(base))
    assert galaxy["ra"] == pytest.approx(150.0) and galaxy["z"] == pytest.approx(0.045)
    assert store.get("stars", f"S{base + 7}")["kind"] == "standard"
    assert store.get("stars", f"G{base + 1}")["kind"] == "guide"
    # the tile page's question: which tiles hold this galaxy
    holding = store.list("tiles", {"member": [str(base)]})
    assert [t["tile_id"] for t in holding["items"]] == [counts["tile_id"]]
    # importing the same file again changes nothing
    again = store.import_tile(read_tile_file(path), observer)
    assert again["targets"] == {"added": 0, "updated": 0, "unchanged": 19}
    assert again["tiles"]["unchanged"] == 1
    assert store.get("tiles", counts["tile_id"])["version"] == 1


def test_a_bad_tile_file_is_rejected_whole_with_line_numbers(tmp_path, observer):
    base = uuid.uuid4().int >> 72
    text = tile_text(base, f"BAD_{base}")
    lines = text.splitlines()
    lines[13] = lines[13].replace(f"C{base + 1}", "Cxyz")  # line 14: not a galaxy ID
    cols = lines[14].split(",")
    cols[8] = "ten"  # line 15: RA is not degrees
    lines[14] = ",".join(cols)
    lines.append(lines[15].replace(f"C{base + 3}", f"C{base + 99}"))  # bundle D twice
    path = tmp_path / "Tile_bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TileFileError) as caught:
        read_tile_file(path)
    problems = caught.value.problems
    assert any(p.startswith("Tile_bad.csv:14: a galaxy ID is C and digits") for p in problems)
    assert any(p.startswith("Tile_bad.csv:15: RA, DEC must be degrees") for p in problems)
    last = len(lines)
    assert any(p == f"Tile_bad.csv:{last}: hexabundle D used twice (line 16)" for p in problems)
    # from the command line: exit 1, every problem printed, nothing stored
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hectornb.cli",
            "obslog",
            "import-tile",
            str(path),
            "--user",
            observer,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "Tile_bad.csv:14:" in proc.stderr
    assert ObslogStore().list("targets", {"galaxy_id": [str(base)]})["total"] == 0


def test_tile_rules_for_standard_star_bundles(tmp_path, observer):
    base = uuid.uuid4().int >> 72
    lines = tile_text(base, f"STD_{base}").splitlines()
    lines[12 + 7] = lines[12 + 7].replace(f"S{base + 7}", f"C{base + 7}")  # a galaxy in H
    path = tmp_path / "Tile_std.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TileFileError, match="H and U take the standard stars"):
        read_tile_file(path)


def test_many_log_entries_at_once_all_or_nothing(observer):
    from hectornb.obslog import FieldErrors

    tag = "bulk" + uuid.uuid4().hex[:8]
    good = [
        {"night": f"2032-01-{d:02d}", "seeing": 1.0 + d / 10, "tags": [tag]} for d in range(1, 21)
    ]
    bad = [*good[:5], {"night": "2032-02-30", "seeing": 1.0}, *good[5:]]
    store = ObslogStore()
    with pytest.raises(FieldErrors) as caught:
        store.create_many("logs", bad, observer)
    assert caught.value.errors == [
        {"field": "[5].night", "reason": "must be a date YYYY-MM-DD, not '2032-02-30'"}
    ]
    assert store.list("logs", {"tags": [tag]})["total"] == 0
    assert store.create_many("logs", good, observer) == 20
    assert store.list("logs", {"tags": [tag]})["total"] == 20
