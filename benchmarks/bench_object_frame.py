"""One full-size object frame, fully reduced, against the truth; with and without cosmic rays.

    .venv/bin/python benchmarks/bench_object_frame.py

For 2dF blue (580V), 2dF red (385R) and Hector red (1000R): calibrations (tramlines, arc,
fibre flat), then the object frame (dark, cosmic rays, extraction, resampling to a linear
grid, fibre flat, sky subtraction) with COSRAY_MTHD NONE, PROFILE (the default) and
LACOSMIC. Targets from issue 3: one frame <= 1.0 s without cosmic-ray rejection and
<= 4 s with it, on one core; object continuum within 1 % of truth (median); sky residual
<= 1 % of sky (median over sky fibres); >= 95 % of cosmic-ray pixels removed with < 0.1 %
false flags; wavelengths (arc, then SKYSCRUNCH against the simulated flexure) within
0.05 pixel RMS of the truth on every fibre.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the target is for one core

import numpy as np
from astropy.io import fits

from hectornb.reduce.builtin import calibrate_arm, raw_image, reduce_object
from hectornb.simulate import galaxy_continuum_ratios, simulate_calibrations


def _windows(cal, shape) -> np.ndarray:
    """Pixels within the extraction windows (where a cosmic ray can touch a spectrum)."""
    inside = np.zeros(shape, bool)
    reach = int(np.ceil(3 * cal.tramlines.sigma))
    cols = np.arange(shape[1])
    for centre in cal.tramlines.centres[cal.tramlines.lit]:
        base = np.floor(centre).astype(int)
        for k in range(-reach, reach + 1):
            rows = base + k
            ok = (rows >= 0) & (rows < shape[0])
            inside[rows[ok], cols[ok]] = True
    return inside


def run(instrument: str, arm: int, tmp: str) -> None:
    paths = simulate_calibrations(tmp, instrument, arm, size="full", seed=3, with_object=True)
    t0 = time.perf_counter()
    cal = calibrate_arm(paths["flat"], paths["arc"])
    t1 = time.perf_counter()
    dark = raw_image(paths["dark"])
    truth = np.load(paths["object"].with_name(paths["object"].stem + "_truth.npz"))
    grating = fits.getheader(paths["arc"])["GRATID"]
    print(f"{instrument} {grating}: calibrations {t1 - t0:.2f} s")
    lit, types = cal.tramlines.lit, cal.types
    arc_truth = np.load(paths["arc"].with_name(paths["arc"].stem + "_truth.npz"))["wave"]
    per_pixel = np.abs(np.gradient(arc_truth, axis=1))
    arc_rms = np.sqrt(np.mean(((cal.wavelength - arc_truth) / per_pixel)[lit] ** 2, axis=1))
    print(
        f"  arc: wavelength RMS vs truth median {np.median(arc_rms):.3f} px, worst fibre "
        f"{arc_rms.max():.3f} px (target 0.05)"
    )
    for method in ("NONE", "PROFILE", "LACOSMIC"):
        # the median of three runs (one for LACOSMIC, which is far from its target anyway):
        # a single run on a shared machine wanders by a third
        times = []
        for _ in range(1 if method == "LACOSMIC" else 3):
            t2 = time.perf_counter()
            obj = reduce_object(cal, paths["object"], dark=dark, options={"COSRAY_MTHD": method})
            times.append(time.perf_counter() - t2)
        seconds = float(np.median(times))
        programme = np.flatnonzero(lit & (types == "P"))
        ratios = galaxy_continuum_ratios(
            obj.spectra, obj.grid, paths["object"], programme, np.median(truth["throughput"][lit])
        )
        sky_fibres = lit & (types == "S")
        # means over pixels: a median of Poisson counts sits a fraction of a count low
        residual = np.mean(obj.spectra[sky_fibres], axis=1) / np.mean(obj.sky)
        # what photon and read noise alone give a sky fibre's mean
        floor = np.median(
            np.sqrt(np.mean(obj.variance[sky_fibres], axis=1) / obj.grid.size)
        ) / np.mean(obj.sky)
        if method == "NONE":
            removed = 0.0 if obj.sky_shift is None else obj.sky_shift[:, None]
            moved = cal.wavelength - removed
            rms = np.sqrt(np.mean(((moved - truth["wave"]) / per_pixel)[lit] ** 2, axis=1))
            flexure = np.median(np.mean((truth["wave"] - arc_truth) / per_pixel, axis=1))
            print(
                f"  object frame: flexure {flexure:.3f} px; after SKYSCRUNCH wavelength RMS "
                f"vs truth median {np.median(rms):.3f} px, worst fibre {rms.max():.3f} px "
                "(target 0.05)"
            )
        target = "1.0" if method == "NONE" else "4"
        text = (
            f"  {method:<8} object frame {seconds:.2f} s (target {target} s)"
            f"; continuum/truth {np.median(ratios):.4f}; sky residual "
            f"{np.median(np.abs(residual)):.2%} (noise alone {floor:.2%})"
        )
        if obj.cosmic_mask is not None:
            cosmic = truth["cosmic"]
            win = _windows(cal, cosmic.shape)
            found = (obj.cosmic_mask & cosmic & win).sum() / max((cosmic & win).sum(), 1)
            false = (obj.cosmic_mask & ~cosmic).sum() / cosmic.size
            text += (
                f"; cosmic-ray pixels removed {found:.1%} of {(cosmic & win).sum()} on "
                f"spectra ({cosmic.sum()} in all), false flags {false:.3%}"
            )
        print(text)


def main() -> int:
    for instrument, arm in (("2df", 1), ("2df", 2), ("hector", 2)):
        with tempfile.TemporaryDirectory(prefix="hnb-object-") as tmp:
            run(instrument, arm, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
