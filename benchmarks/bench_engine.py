"""The built-in engine's steps so far on full-size simulated frames, against their truth.

    .venv/bin/python benchmarks/bench_engine.py [--instrument hector|2df]

Simulates one full-size field (both arms) in a temporary directory, then for each arm's
fibre flat: preprocessing, tramline map and extraction times; fibres found and identified;
trace error against truth; extracted flux against truth. Targets from issue 3: 0 swaps,
flux within 1 % (median), one full-size frame <= 1.0 s on one core without cosmic-ray
rejection (the whole frame, when all steps exist).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time

import numpy as np
from astropy.io import fits

from hectornb.reduce.engine import extract, find_tramlines, preprocess
from hectornb.simulate import simulate_night


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instrument", choices=("hector", "2df"), default="hector")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hnb-engine-") as tmp:
        t0 = time.perf_counter()
        paths = simulate_night(tmp, date=dt.date(2025, 8, 27), instrument=args.instrument,
                               fields=1, exposures=1, size="full", seed=5)  # fmt: skip
        print(f"simulated {len(paths)} full-size frames in {time.perf_counter() - t0:.1f} s")
        for path in paths:
            header = fits.getheader(path)
            if header["NDFCLASS"] != "MFFFF":
                continue
            raw = fits.getdata(path)
            types = fits.getdata(path, "FIBRES")["TYPE"]
            truth = np.load(path.with_name(path.stem + "_truth.npz"))
            t0 = time.perf_counter()
            image = preprocess(raw, header)
            t1 = time.perf_counter()
            tl = find_tramlines(image.data, types)
            t2 = time.perf_counter()
            flux, var = extract(image, tl)
            t3 = time.perf_counter()
            lit = tl.lit
            err = tl.centres[lit] - truth["trace"][lit]
            swaps = int(np.sum(np.abs(err).max(axis=1) > 1.0))
            expect = truth["spectra"] * truth["throughput"][:, None]
            good = np.ones(flux.shape[1], bool)
            good[int(truth["bad_column"])] = False
            ratio = np.median((flux / expect)[lit][:, good])
            pull = ((flux - expect) / np.sqrt(var))[lit][:, good]
            print(f"{path.name} ({header['SPECTID']}, {raw.shape[1]}x{raw.shape[0]}, "
                  f"{len(types)} fibres, {int((~lit).sum())} broken):")  # fmt: skip
            print(
                f"  preprocess {t1 - t0:.2f} s, tramlines {t2 - t1:.2f} s, "
                f"extract {t3 - t2:.2f} s (target: whole frame <= 1.0 s)"
            )
            print(
                f"  fibres traced {int(lit.sum())}/{int(lit.sum())}, swaps {swaps} (target 0); "
                f"trace error RMS {np.sqrt(np.mean(err**2)):.3f} px, max {np.abs(err).max():.2f}"
            )
            print(
                f"  flux / truth median {ratio:.4f} (target within 1 %); pull median "
                f"{np.median(pull):.3f}, robust width "
                f"{1.4826 * np.median(np.abs(pull - np.median(pull))):.3f} (honest variance: 1)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
