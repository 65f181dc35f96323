"""Reduced spectra in the Virtual Observatory: how soon a product's spectra can be found,
and cone searches on ObsCore with a million spectra.

    .venv/bin/python benchmarks/bench_obscore.py [--spectra 1000000] [--cones 300]

Starts ``hectornb serve`` on a throw-away embedded database, then:

- **staging**: a full-size Hector product (819 fibres, 2 × 2046 pixels each, written by the
  simulator) is described into the spectrum table as the reduction runner does when the
  product's step ends, and an ObsCore query over HTTP finds it: seconds from the product's
  file being written to its spectra being returned (issue 18: <= 2 s);
- **cone**: ``--spectra`` spectra spread over the sky in ``ivoa.obscore`` (the view, with
  its visibility rules), radius 1' at random centres, VOTable over HTTP: p50 and p99
  (issue 18: p50 <= 20 ms, as the catalogue cone figure is). The reference in the same run
  is the same cone on a catalogue table of as many rows (``bench.catalogue``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_tap import make_table, sync  # noqa: E402
from support.harness import benchmark_server  # noqa: E402


def fill_spectra(n: int) -> float:
    """``n`` spectra of a public programme at random positions; seconds taken."""
    from hectornb.db import connect
    from hectornb.reduce.access import set_programme

    set_programme("BENCH/PUBLIC", public_from=dt.date(2020, 1, 1))
    t0 = time.perf_counter()
    with connect(unlimited=True) as conn:
        conn.execute(
            "INSERT INTO spectrum (did, product, fibre, task, owner, aaoprgid, calib_level, "
            "obs_collection, obs_id, target_name, s_ra, s_dec, s_fov, s_resolution, t_min, "
            "t_max, t_exptime, em_min, em_max, em_res_power, em_xel, facility_name, "
            "instrument_name, access_estsize) "
            "SELECT 'ivo://bench/spectra?b/p' || g || '/0', '/bench/p' || g || '.fits', 0, "
            "'reduce_object', 'bench', 'BENCH/PUBLIC', 2, 'Hector', 'p' || g, 'g' || g, "
            "360 * random(), degrees(asin(2 * random() - 1)), 1.6 / 3600, 1.6, 60000, "
            "60000.02, 1800, 3.7e-7, 5.8e-7, 1500, 2046, 'AAT', 'AAOmega+Hector', 57 "
            "FROM generate_series(1, %s) AS g",
            (n,),
        )
        conn.execute("ANALYZE spectrum")
    return time.perf_counter() - t0


def staging_seconds(base: str, folder: Path) -> tuple[float, float, int]:
    """(product written -> spectra described, -> found over HTTP, spectra found) for one
    full-size Hector product: the simulator's object frame with 819 fibres, extracted."""
    import io

    from astropy.io import fits
    from astropy.io.votable import parse_single_table

    from hectornb.simulate import simulate_night
    from hectornb.spectra.index import SpectrumIndex
    from hectornb.spectra.io import FIBRE_TABLE_NAMES, ReducedFrame, fibre_table, write_2dfdr

    frames = simulate_night(
        folder / "raw", dt.date(2025, 9, 1), "hector", fields=1, size="full", exposures=1
    )
    raw = next(p for p in frames if fits.getheader(p)["NDFCLASS"] == "MFOBJECT")
    with fits.open(raw) as hdul:
        header = hdul[0].header.copy()
        fibres = fibre_table(next(h for h in hdul if h.name in FIBRE_TABLE_NAMES))
    n, pixels = len(fibres), 2046
    frame = ReducedFrame(
        np.random.default_rng(1).normal(100, 10, (n, pixels)).astype(np.float32),
        3700.0 + np.arange(pixels) * 1.05,
        fibres,
        np.full((n, pixels), 100.0, np.float32),
        header=header,
    )
    from hectornb.reduce.access import set_programme

    set_programme(header["AAOPRGID"], dt.date(2020, 1, 1))  # public: the query sees it
    request = folder / "reduce" / "benchrequest0001"
    product = write_2dfdr(frame, request / f"{raw.stem}red.fits")
    written = product.stat().st_mtime
    SpectrumIndex().add_product(product, "reduce_object", "bench")
    described = time.time() - written
    session = requests.Session()
    session.headers["Authorization"] = "token bench"
    r = sync(
        session,
        base + "/hectornb/tap",
        "SELECT obs_publisher_did FROM ivoa.obscore WHERE obs_publisher_did LIKE "
        f"'%spectra?{request.name}/{product.stem}/%'",
    )
    found = time.time() - written
    return described, found, len(parse_single_table(io.BytesIO(r.content)).to_table())


def cone_ms(session, url: str, table: str, ra_col: str, dec_col: str, centres) -> list[float]:
    out = []
    for ra, dec in centres:
        q = (
            f"SELECT * FROM {table} WHERE 1 = CONTAINS(POINT({ra_col}, {dec_col}), "
            f"CIRCLE({ra!r}, {dec!r}, 1.0 / 60))"
        )
        t = time.perf_counter()
        sync(session, url, q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=1_000_000)
    parser.add_argument("--cones", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory(prefix="hnb-bench-obscore-") as home:
        os.environ["HECTORNB_HOME"] = home
        print(f"spectra: {args.spectra} made in {fill_spectra(args.spectra):.0f} s")
        print(f"bench.catalogue: made in {make_table('catalogue', args.spectra):.0f} s")
        with benchmark_server(home) as base:
            described, found, n = staging_seconds(base, Path(home))
            print(
                f"staging, one Hector product ({n} program spectra): described {described:.2f} "
                f"s, found in ObsCore over HTTP {found:.2f} s after it was written (goal <= 2 s)"
            )
            url = base + "/hectornb/tap"
            session = requests.Session()
            centres = [
                (float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-1, 1)))))
                for _ in range(args.cones)
            ]
            cone_ms(session, url, "ivoa.obscore", "s_ra", "s_dec", centres[:20])  # warm
            cone_ms(session, url, "bench.catalogue", "ra", "dec", centres[:20])
            obs = cone_ms(session, url, "ivoa.obscore", "s_ra", "s_dec", centres)
            cat = cone_ms(session, url, "bench.catalogue", "ra", "dec", centres)
            p50, p99 = statistics.median(obs), float(np.percentile(obs, 99))
            ref = statistics.median(cat)
            print(
                f"cone 1' on ivoa.obscore ({args.spectra} spectra), HTTP + VOTable: "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal p50 <= 20 ms)"
            )
            print(
                f"reference, the same cones on bench.catalogue ({args.spectra} rows): p50 "
                f"{ref:.1f} ms; ratio {p50 / ref:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
