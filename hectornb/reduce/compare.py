"""Regression comparison of two reductions of the same frame (regression testing of reduction
algorithms, as PAWS plans it): per-fibre flux ratio and wavelength shift.

Two engines, two versions of one, or two sets of options reduce the same raw frame; this
says fibre by fibre how the products differ: the median flux ratio (B/A) and its scatter,
and the shift (Angstrom, B minus A) that best aligns B's spectrum with A's, measured as
SKYSCRUNCH measures fibres against the sky (`relative_shifts`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import QTable

from ..errors import Invalid
from ..spectra.io import read_2dfdr
from .builtin.skylines import relative_shifts


def _on_grid(flux: np.ndarray, wave: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each row of ``flux`` (on ``wave``: one axis, or one per row) interpolated to ``grid``."""
    waves = np.broadcast_to(wave, flux.shape)
    return np.array(
        [
            np.interp(grid, w, row, left=np.nan, right=np.nan)
            for w, row in zip(waves, flux, strict=True)
        ]
    )


def _linear(frame) -> tuple[np.ndarray, np.ndarray]:
    """A product's wavelength axis (Angstrom) and flux on it: per-fibre wavelengths (a
    ``WAVELENGTH`` extension) go onto their median fibre's axis."""
    wave = np.asarray(frame.wavelength, float)
    flux = np.asarray(frame.flux, float)
    if wave.ndim == 1:
        return wave, flux
    grid = np.nanmedian(wave, axis=0)
    return grid, _on_grid(flux, wave, grid)


def _shifts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels by which each row of ``b`` lies right of the same row of ``a``, and the
    standard errors (the sky-line shift measurement, fibre by fibre)."""
    shift = np.full(len(a), np.nan)
    error = np.full(len(a), np.nan)
    for i, (row_a, row_b) in enumerate(zip(a, b, strict=True)):
        if np.isfinite(row_a).sum() > 50 and np.isfinite(row_b).sum() > 50:
            s, e = relative_shifts(row_b[None], row_a)
            shift[i], error[i] = s[0], e[0]
    return shift, error


def compare_products(a: str | Path, b: str | Path) -> QTable:
    """Per-fibre differences of product ``b`` from product ``a`` (same frame, same fibres).

    Columns: ``fibre`` (1-based), ``name``, ``type``, ``flux_ratio`` (B's total over A's,
    on the pixels both cover; NaN where A's total is below 5 sigma), ``rms_difference``
    (RMS of B-A over RMS of A),
    ``wavelength_shift`` (Angstrom, B minus A, from the spectra's features; NaN where there
    are too few to align) and ``shift_error`` (its standard error, Angstrom).
    """
    fa, fb = read_2dfdr(a), read_2dfdr(b)
    if fa.flux.shape[0] != fb.flux.shape[0]:
        raise Invalid(
            f"{Path(a).name} has {fa.flux.shape[0]} fibres, "
            f"{Path(b).name} has {fb.flux.shape[0]}: not the same frame"
        )
    wa, flux_a = _linear(fa)
    wb, flux_b = _linear(fb)
    step = float(np.median(np.diff(wa)))
    same_step = len(wa) == len(wb) and np.allclose(np.diff(wb), step, rtol=1e-6)
    # the shift on each product's own pixels, plus the offset of the axes: resampling
    # one onto the other smooths its noise, which drags the measured shift towards zero
    if same_step:
        pixels, error = _shifts(flux_a, flux_b)
        shifts = pixels * step + (wb[0] - wa[0])
    else:
        pixels, error = _shifts(flux_a, _on_grid(flux_b, wb, wa))
        shifts = pixels * step
    shifts[~(error < 0.5)] = np.nan  # no features to align
    # fluxes pixel by pixel on the same axis, else B resampled onto A's
    on_a = flux_b if same_step else _on_grid(flux_b, wb, wa)
    both = np.isfinite(flux_a) & np.isfinite(on_a)
    total_a = np.where(both, flux_a, 0.0).sum(axis=1)
    total_b = np.where(both, on_a, 0.0).sum(axis=1)
    count = np.maximum(both.sum(axis=1), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total_a > 0, total_b / total_a, np.nan)
        if fa.variance is not None:  # a sky-subtracted sky fibre has no flux to compare
            noise = np.sqrt(np.where(both, np.asarray(fa.variance, float), 0.0).sum(axis=1))
            ratio[total_a < 5 * noise] = np.nan
        rms = np.sqrt(np.where(both, (on_a - flux_a) ** 2, 0.0).sum(axis=1) / count)
        scale = np.sqrt(np.where(both, flux_a**2, 0.0).sum(axis=1) / count)
        difference = np.where(scale > 0, rms / scale, np.nan)
    fibres, n = fa.fibres, len(ratio)
    return QTable(
        {
            "fibre": np.arange(1, n + 1),
            "name": list(fibres["NAME"]) if "NAME" in fibres.colnames else [""] * n,
            "type": list(fibres["TYPE"]) if "TYPE" in fibres.colnames else [""] * n,
            "flux_ratio": ratio,
            "rms_difference": difference,
            "wavelength_shift": shifts * u.AA,
            "shift_error": np.abs(error * step) * u.AA,
        }
    )


def summarise(table: QTable) -> list[str]:
    """Lines a person reads: the typical and the worst fibre."""
    ratio = np.asarray(table["flux_ratio"], float)
    shift = table["wavelength_shift"].to_value(u.AA)
    ok = np.isfinite(ratio)
    if not ok.any():
        return ["no fibre with flux in both products"]
    worst_r = int(np.nanargmax(np.abs(ratio - 1)))
    worst_s = int(np.nanargmax(np.abs(np.where(np.isfinite(shift), shift, 0))))
    return [
        f"{ok.sum()} fibres compared",
        f"flux ratio B/A: median {np.nanmedian(ratio):.4f}; worst fibre "
        f"{table['fibre'][worst_r]} ({table['name'][worst_r]}) {ratio[worst_r]:.4f}",
        f"wavelength shift B-A: median {np.nanmedian(shift):+.4f} Å; worst fibre "
        f"{table['fibre'][worst_s]} ({table['name'][worst_s]}) {shift[worst_s]:+.4f} Å",
    ]
