"""One full-size object frame, reduced as far as the engine goes, against the truth.

    .venv/bin/python benchmarks/bench_object_frame.py

For 2dF blue (580V), 2dF red (385R) and Hector red (1000R): calibrations (tramlines, arc),
then the object frame (dark, extraction, resampling to a linear grid, fibre flat, sky
subtraction). Targets from issue 3: object continuum within 1 % of truth (median), sky
residual <= 1 % of sky (median over sky fibres).
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
from astropy.io import fits

from hectornb.reduce.engine import extract, find_tramlines, fit_arc, preprocess
from hectornb.reduce.engine.calibrate import fibre_flat, linear_grid, resample, subtract_sky
from hectornb.simulate import line_list, simulate_calibrations
from hectornb.simulate.night import _sky

ARC_LINES = np.concatenate([line_list("cuar.dat"), line_list("fear.dat")])
SKY_LINES = line_list("skylines.dat")


def run(instrument: str, arm: int, tmp: str) -> None:
    paths = simulate_calibrations(tmp, instrument, arm, size="full", seed=3, with_object=True)
    types = np.array(fits.getdata(paths["flat"], "FIBRES")["TYPE"])
    t0 = time.perf_counter()
    flat = preprocess(fits.getdata(paths["flat"]), fits.getheader(paths["flat"]))
    tl = find_tramlines(flat.data, types)
    lit = tl.lit
    arc_h = fits.getheader(paths["arc"])
    arc, arc_var = extract(preprocess(fits.getdata(paths["arc"]), arc_h), tl)
    wave = fit_arc(arc, arc_var, arc_h, ARC_LINES).wavelength
    grid = linear_grid(wave, lit)
    ff = fibre_flat(resample(*extract(flat, tl), wave, grid)[0], lit)
    dark = preprocess(fits.getdata(paths["dark"]), fits.getheader(paths["dark"]))
    t1 = time.perf_counter()
    obj_h = fits.getheader(paths["object"])
    obj, obj_var = extract(preprocess(fits.getdata(paths["object"]), obj_h, dark=dark), tl)
    obj_r, obj_rv = resample(obj, obj_var, wave, grid)
    sky_fibres = lit & (types == "S")
    spectra, _, sky = subtract_sky(obj_r / ff, obj_rv / ff**2, sky_fibres)
    t2 = time.perf_counter()
    truth = np.load(paths["object"].with_name(paths["object"].stem + "_truth.npz"))
    thr = truth["throughput"]
    ratios = []
    for f in np.flatnonzero(lit & (types == "P")):
        tw = truth["wave"][f].astype(float)
        galaxy = truth["spectra"][f] - _sky(tw, SKY_LINES) * obj_h["EXPOSED"] / 60.0
        g, _ = resample(galaxy[None], np.zeros((1, tw.size)), tw[None], grid)
        ratios.append(np.median(spectra[f]) / (np.median(g) * np.median(thr[lit])))
    residual = np.median(spectra[sky_fibres], axis=1) / np.median(sky)
    print(f"{instrument} {arc_h['GRATID']}: calibrations {t1 - t0:.2f} s, object frame "
          f"{t2 - t1:.2f} s (no cosmic-ray rejection yet)")  # fmt: skip
    print(
        f"  continuum / truth median {np.median(ratios):.4f} over {len(ratios)} fibres "
        f"(target within 1 %); sky residual median |.| {np.median(np.abs(residual)):.2%} of "
        f"sky over {int(sky_fibres.sum())} sky fibres (target <= 1 %)"
    )


def main() -> int:
    for instrument, arm in (("2df", 1), ("2df", 2), ("hector", 2)):
        with tempfile.TemporaryDirectory(prefix="hnb-object-") as tmp:
            run(instrument, arm, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
