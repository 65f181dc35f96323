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

from hectornb.reduce.engine import calibrate_arm, reduce_object
from hectornb.simulate import galaxy_continuum_ratios, simulate_calibrations


def run(instrument: str, arm: int, tmp: str) -> None:
    paths = simulate_calibrations(tmp, instrument, arm, size="full", seed=3, with_object=True)
    t0 = time.perf_counter()
    cal = calibrate_arm(paths["flat"], paths["arc"])
    t1 = time.perf_counter()
    obj = reduce_object(cal, paths["object"], dark=paths["dark"])
    t2 = time.perf_counter()
    lit, types = cal.tramlines.lit, cal.types
    thr = np.load(paths["object"].with_name(paths["object"].stem + "_truth.npz"))["throughput"]
    programme = np.flatnonzero(lit & (types == "P"))
    ratios = galaxy_continuum_ratios(
        obj.spectra, obj.grid, paths["object"], programme, np.median(thr[lit])
    )
    sky_fibres = lit & (types == "S")
    residual = np.median(obj.spectra[sky_fibres], axis=1) / np.median(obj.sky)
    grating = fits.getheader(paths["arc"])["GRATID"]
    print(f"{instrument} {grating}: calibrations {t1 - t0:.2f} s, object frame "
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
