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

from hectornb.reduce.builtin import extract, find_tramlines, fit_arc, preprocess
from hectornb.simulate import line_list, simulate_night


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instrument", choices=("hector", "2df"), default="hector")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hnb-engine-") as tmp:
        t0 = time.perf_counter()
        paths = simulate_night(
            tmp,
            date=dt.date(2025, 8, 27),
            instrument=args.instrument,
            fields=1,
            exposures=1,
            size="full",
            seed=5,
        )
        print(f"simulated {len(paths)} full-size frames in {time.perf_counter() - t0:.1f} s")
        lines = np.concatenate([line_list("cuar.dat"), line_list("fear.dat")])
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
            print(
                f"{path.name} ({header['SPECTID']}, {raw.shape[1]}x{raw.shape[0]}, "
                f"{len(types)} fibres, {int((~lit).sum())} broken):"
            )
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
            arc_path = next(
                p
                for p in paths
                if p.parent == path.parent and fits.getheader(p)["NDFCLASS"] == "MFARC"
            )
            arc_header = fits.getheader(arc_path)
            t0 = time.perf_counter()
            arc_flux, arc_var = extract(preprocess(fits.getdata(arc_path), arc_header), tl)
            solution = fit_arc(arc_flux, arc_var, arc_header, lines)
            t1 = time.perf_counter()
            wave = np.load(arc_path.with_name(arc_path.stem + "_truth.npz"))["wave"]
            err_px = (solution.wavelength[lit] - wave[lit]) / np.abs(np.gradient(wave[lit], axis=1))
            print(
                f"  arc {arc_path.name} ({arc_header['GRATID']}): wavelength error vs truth "
                f"RMS {np.sqrt(np.mean(err_px**2)):.3f} px (target <= 0.05), fit RMS median "
                f"{np.nanmedian(solution.rms_pixels):.3f} px, lines per fibre "
                f"{int(np.median(solution.n_lines[lit]))}; {t1 - t0:.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
