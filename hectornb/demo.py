"""Demo data built offline from real catalogues shipped in PyPI packages.

- ``sample_list``: the planetary nebulae from the Hector target selector's screens;
- ``hector-galaxies``: 2,000 OpenNGC galaxies with a redshift below 0.1 in the southern sky,
  the kind of list Hector vets before tiling.

The lists are written as CSV files under ``HECTORNB_HOME/demo`` (so a user sees the input
format) and imported; loading again leaves existing lists and their classifications alone.

- a simulated 2dF night (small frames, so it reduces in seconds on a laptop) in
  ``HECTORNB_HOME/demo/raw``, indexed into the archive, its programme the demo user's:
  the Reduce app has data to find and reduce.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .config import get_settings
from .targets import TargetStoreError, read_target_list, target_store
from .targets.coords import format_dec, format_ra

SAMPLE_LIST = """# The planetary nebulae shown in the Hector target selector's screens.
# Target,RA,DEC (sexagesimal, J2000)
NGC6337,17 22 15.670,-38 29 01.73
NGC5189,13 33 32.880,-65 58 27.04
NGC6326,17 20 46.352,-51 45 15.17
Te11,05 45 58.264,+02 21 06.41
NGC7008,21 00 32.818,+54 32 35.35
"""


def openngc_galaxies(limit: int = 2000) -> list[tuple[str, float, float]]:
    """(name, ra deg, dec deg) of nearby southern galaxies from OpenNGC (pyongc)."""
    from pyongc import ongc

    with sqlite3.connect(f"file:{ongc.DBPATH}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT name, ra, dec FROM objects WHERE type = 'G' AND redshift < 0.1"
            " AND dec BETWEEN ? AND ? ORDER BY ra LIMIT ?",
            (math.radians(-60.0), math.radians(5.0), limit),
        ).fetchall()
    return [(n, math.degrees(ra), math.degrees(dec)) for n, ra, dec in rows]


def write_demo_files(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    sample = directory / "sample_list.csv"
    sample.write_text(SAMPLE_LIST, encoding="utf-8")
    galaxies = directory / "hector-galaxies.csv"
    lines = ["# OpenNGC galaxies, z < 0.1, -60 < Dec < +5 (sexagesimal, J2000)"]
    lines += [f"{n},{format_ra(ra)},{format_dec(dec)}" for n, ra, dec in openngc_galaxies()]
    galaxies.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [sample, galaxies]


#: The programme of the shipped example products (their AAOPRGID), public since 2016.
EXAMPLE_PROGRAMME = "A/2014B/008"


def load_demo(owner: str) -> Iterator[str]:
    """Write and import the demo lists; yields one line per list for the user."""
    store = target_store()
    existing = {info.name for info in store.lists()}
    for path in write_demo_files(get_settings().home / "demo"):
        name = path.stem
        if name in existing:
            yield f"{name}: already loaded"
            continue
        try:
            yield store.import_list(read_target_list(path), name, owner).summary()
        except TargetStoreError as exc:  # a concurrent loader won the race
            yield f"{name}: {exc}"
    yield load_demo_night(owner)
    yield load_demo_log(owner)
    yield load_demo_catalogues()
    yield load_demo_spectra(owner)


def load_demo_spectra(owner: str) -> str:
    """The real 2dfdr products shipped with the package, in ObsCore, SSA and DataLink (their
    programme public), so that the VO services have spectra before anything is reduced."""
    import datetime as dt

    from .reduce.access import programmes, set_programme
    from .spectra.index import SpectrumIndex
    from .spectra.products import EXAMPLES, find_products

    known = {p["aaoprgid"] for p in programmes()}
    if EXAMPLE_PROGRAMME not in known:
        set_programme(EXAMPLE_PROGRAMME, dt.date(2016, 7, 1), "2dF spectra shipped as examples")
    index = SpectrumIndex()
    n = sum(index.add_product(path, "splice", owner) for _, path in find_products(EXAMPLES))
    return f"reduced spectra: {n} example spectra in ObsCore, SSA and DataLink"


def load_demo_catalogues() -> str:
    """Publish the demo catalogues through TAP, once."""
    from .tap import TapService, ingest_table
    from .tap.shipped import DEMO, publish_demo_catalogues, simulated_fields_table

    have = {t.name for t in TapService().tables()}
    missing = tuple(n for n in DEMO if n not in have)
    if "demo.simulated_fields" not in have:
        ingest_table(
            simulated_fields_table(get_settings().home / "demo" / "raw"),
            "demo.simulated_fields",
            by="hectornb",
            description="Input catalogue of the demo night's simulated fields",
            schema_description="The demo's simulated data.",
        )
        missing += ("demo.simulated_fields",)
    if not missing:
        return "TAP catalogues: already published"
    publish_demo_catalogues(tuple(n for n in missing if n in DEMO))
    return "TAP catalogues: " + ", ".join(missing) + " published"


def index_simulated_night(
    raw: Path, members: tuple[str, ...], settings=None, **simulate
) -> pd.DataFrame:
    """Simulate a night under ``raw`` (unless one is there), index it into the archive and
    make ``members`` members of its programmes; returns the index. ``simulate`` goes to
    `hectornb.simulate.simulate_night` (date, size, seed, fields, exposures, …)."""
    from .reduce import index_directory, store_index
    from .reduce.access import set_programme
    from .simulate import simulate_night

    if not any(Path(raw).glob("*/ccd_*/*.fits")):
        simulate_night(raw, **{"size": "small", **simulate})
    frames, _ = index_directory(raw)
    store_index(frames, settings)
    for programme in sorted(set(frames["aaoprgid"])):
        set_programme(programme, None, members=members, settings=settings)
    return frames


def load_demo_night(owner: str) -> str:
    """Simulate (once) and index a small 2dF night; ``owner`` joins its programme."""
    raw = get_settings().home / "demo" / "raw"
    frames = index_simulated_night(raw, (owner,), date=dt.date(2025, 10, 1), seed=1)
    nights = ", ".join(sorted(set(frames["night"])))
    return f"demo night {nights}: {len(frames)} raw frames indexed under {raw}"


def load_demo_log(owner: str) -> str:
    """Make ``owner`` an observer and log the demo night (a run, an entry per object
    exposure, with its raw frames), once."""
    from astropy.time import Time

    from .obslog import ObslogStore
    from .reduce.access import visible_frames

    store = ObslogStore()
    store.set_observer(owner)
    if store.list("runs", {"run_id": ["DEMO-2025-10"]})["total"]:
        return "observing log: already loaded"
    store.create(
        "runs",
        {
            "run_id": "DEMO-2025-10",
            "start_date": "2025-09-30",
            "end_date": "2025-10-02",
            "observers": [owner],
            "instrument": "2dF/AAOmega",
            "setup": "580V + 385R",
        },
        owner,
    )
    objects = visible_frames(
        owner, {"night_from": "251001", "night_to": "251001", "ndfclass": "MFOBJECT", "arm": "blue"}
    )
    tiles = {}  # a tile per field the night observed, where the telescope pointed
    for f in objects:
        tiles.setdefault(
            f["object"],
            {
                "tile_id": (
                    f"T-DEMO{len(tiles) + 1}-{f['meanra']:.2f}-{f['meandec']:.2f}-2025-10-01"
                ),
                "ra": f["meanra"],
                "dec": f["meandec"],
                "date": "2025-10-01",
                "label": f["object"],
                "plate_id": str(f["plate"]),
            },
        )
    if tiles:
        store.create_many("tiles", list(tiles.values()), owner)
    entries = [
        {
            "night": "2025-10-01",
            "run_id": "DEMO-2025-10",
            "frames": [f["file"]],
            "time": Time(f["utmjd"], format="mjd").to_datetime(dt.UTC).isoformat(),
            "tile_id": tiles[f["object"]]["tile_id"],
            "exposure": f["exposed"],
            "seeing": round(1.1 + 0.1 * k, 2),
            "qc": "pass",
            "transparency": "clear",
            "comment": f"{f['object']}: exposure {k + 1}",
            "tags": ["demo"],
        }
        for k, f in enumerate(objects)
    ]
    if entries:
        store.create_many("logs", entries, owner)
    return f"observing log: a run, {len(tiles)} tiles and {len(entries)} entries for the demo night"
