"""Sky lines in reduced products against their laboratory air wavelengths.

    .venv/bin/python benchmarks/bench_sky_lines.py

The wavelength scale of a reduced product, checked where nature fixes it: the centre of
[OI] 5577.338, 6300.304, 6363.780 Å and of isolated OH lines, fitted (Gaussian over a
straight baseline) in the product's sky spectrum. Measured on

- full-size simulated object frames (2dF 580V and 385R, Hector 1000R) reduced by the built-in
  engine with its defaults (SKYSCRUNCH on); goal <= 0.1 Å RMS;
- the real 2dfdr products shipped in ``hectornb/data/aaomega-2dfdr-reduced``: 2dfdr's own
  figure, the reference (0.00–0.40 Å measured before).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit

from hectornb.reduce.builtin import calibrate_arm, raw_image, reduce_object
from hectornb.simulate import simulate_calibrations
from hectornb.spectra import read
from hectornb.spectra.products import EXAMPLES

#: Laboratory air wavelengths (Å): [OI], and OH lines with no neighbour within ~6 Å at
#: AAOmega's resolution.
LINES = (5577.338, 6300.304, 6363.780, 6863.955, 7340.885, 7750.640, 8399.170, 8430.174)
REAL = ("emlLinearSkyAirHelio.fits", "quasarLinearSkyAirNoHelio.fits")


def centre(wave: np.ndarray, sky: np.ndarray, lab: float, half: float) -> float:
    """The fitted centre (Å) of the line nearest ``lab`` within +-``half`` Å; NaN if none."""
    m = (wave > lab - half) & (wave < lab + half) & np.isfinite(sky)
    if m.sum() < 6:
        return np.nan
    x, y = wave[m], sky[m]

    def model(x, a, c, s, b0, b1):
        return a * np.exp(-0.5 * ((x - c) / s) ** 2) + b0 + b1 * (x - lab)

    start = (np.ptp(y), x[np.argmax(y)], half / 4, np.min(y), 0.0)
    try:
        p, _ = curve_fit(model, x, y, p0=start, maxfev=5000)
    except RuntimeError:
        return np.nan
    ok = p[0] > 0 and abs(p[1] - lab) < half / 2 and 0 < p[2] < half
    return float(p[1]) if ok else np.nan


def offsets(wave: np.ndarray, sky: np.ndarray, fwhm: float) -> dict[float, float]:
    found = {lab: centre(wave, sky, lab, 2.0 * fwhm) - lab for lab in LINES}
    return {lab: d for lab, d in found.items() if np.isfinite(d)}


def report(label: str, found: dict[float, float]) -> float:
    rms = float(np.sqrt(np.mean(np.square(list(found.values()))))) if found else np.nan
    lines = ", ".join(f"{lab:.1f} {d:+.3f}" for lab, d in found.items())
    print(f"  {label}: RMS {rms:.3f} Å over {len(found)} lines ({lines})")
    return rms


def main() -> int:
    print("Sky lines vs laboratory air wavelengths (Å, fitted minus laboratory)")
    print("simulated nights, built-in engine, defaults (goal <= 0.1 Å RMS):")
    sims = []
    with tempfile.TemporaryDirectory() as tmp:
        for instrument, arm in (("2df", 1), ("2df", 2), ("hector", 2)):
            paths = simulate_calibrations(
                Path(tmp) / f"{instrument}{arm}",
                instrument,
                arm,
                size="full",
                seed=4,
                with_object=True,
            )
            cal = calibrate_arm(paths["flat"], paths["arc"])
            obj = reduce_object(cal, paths["object"], dark=raw_image(paths["dark"]))
            step = float(obj.grid[1] - obj.grid[0])
            grating = {1: "580V", 2: "1000R" if instrument == "hector" else "385R"}[arm]
            sky = obj.sky if obj.sky.ndim == 1 else np.nanmedian(obj.sky, axis=0)
            sims.append(report(f"{instrument} {grating}", offsets(obj.grid, sky, 3.1 * step)))
    print("real 2dfdr products (2dfdr's own figure, the reference):")
    reals = []
    for name in REAL:
        frame = read(EXAMPLES / name)
        wave = np.asarray(frame.fibre_wavelength(0).value)
        sky = frame.sky if frame.sky.ndim == 1 else frame.sky[0]
        reals.append(report(name, offsets(wave, sky, 5.4)))
    sim, real = np.nanmax(sims), np.nanmax(reals)
    print(
        f"worst simulated RMS {sim:.3f} Å (goal 0.1 -> {sim / 0.1:.2f} of it); worst real "
        f"2dfdr RMS {real:.3f} Å; ratio {sim / real:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
