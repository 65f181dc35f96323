"""Combining a field's exposures, and splicing the blue and red arms.

`combine_image` (2dFdr's ``combine_image``): the reduced frames of one field and arm share a
grid and a fibre table. Each frame is scaled to the others by its median ratio to the
frames' median (transparency and exposure differences); at each pixel the frames further
than ``CSIGREJ`` standard deviations from the median of the frames are rejected (cosmic
rays the extraction missed, satellite trails) and the rest averaged, unweighted: weights
from the data's own variance would bias the mean low.

`splice`: both arms resampled onto one linear grid at the finer arm's step, in counts per
Angstrom so the two join without a jump from the pixel size; where the arms overlap, the
inverse-variance weighted mean.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...spectra.io import ReducedFrame, read_2dfdr, write_2dfdr
from ..errors import DataError
from .calibrate import resample
from .tasks import ENGINE_NAME


def _scales(stack: np.ndarray) -> np.ndarray:
    """Per frame: median over fibres of its median ratio to the median frame."""
    reference = np.nanmedian(stack, axis=0)
    ref_level = np.nanmedian(reference, axis=1)
    scales = []
    for frame in stack:
        level = np.nanmedian(frame, axis=1)
        ok = np.isfinite(level) & np.isfinite(ref_level) & (ref_level > 0) & (level > 0)
        scales.append(float(np.median(level[ok] / ref_level[ok])) if ok.any() else 1.0)
    return np.array(scales)


def combine_image(
    reds: Sequence[str | Path], out: str | Path, options: Mapping[str, str] | None = None
) -> Path:
    """Combine reduced frames of one field and arm with rejection; write ``out``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # broken fibres are all-NaN rows
        return _combine_image(reds, out, options)


def _combine_image(reds, out, options) -> Path:
    frames = [read_2dfdr(p) for p in reds]
    first = frames[0]
    for path, f in zip(reds, frames, strict=True):
        if f.flux.shape != first.flux.shape or not np.allclose(f.wavelength, first.wavelength):
            raise DataError(f"{Path(path).name} is not on the grid of {Path(reds[0]).name}")
    flux = np.stack([f.flux for f in frames])
    var = np.stack([f.variance for f in frames])
    scales = _scales(flux) if len(frames) > 1 else np.ones(1)
    flux /= scales[:, None, None]
    var /= scales[:, None, None] ** 2
    threshold = float((options or {}).get("CSIGREJ", 5))
    keep = np.isfinite(flux)
    if len(frames) > 2:
        centre = np.nanmedian(flux, axis=0)
        with np.errstate(invalid="ignore"):
            keep &= (flux - centre) ** 2 <= threshold**2 * var
    n = keep.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(keep, flux, 0.0).sum(axis=0) / n
        mean_var = np.where(keep, var, 0.0).sum(axis=0) / n**2
    mean[n == 0] = np.nan
    mean_var[n == 0] = np.nan
    h = first.header.copy()
    h["NCOMBINE"] = (len(frames), "exposures combined")
    h["EXPOSED"] = (
        float(np.mean([f.header.get("EXPOSED", 0.0) for f in frames])),
        "mean exposure of the frames combined (s)",
    )
    h["TOTALEXP"] = (float(sum(f.header.get("EXPOSED", 0.0) for f in frames)), "(s)")
    h["NREJECT"] = (int((np.isfinite(flux) & ~keep).sum()), "pixels rejected")
    for p, s in zip(reds, scales, strict=True):
        h.add_history(f"Combined {Path(p).name} scaled by 1/{s:.4f}")
    sky = (
        np.nanmean(np.stack([f.sky for f in frames if f.sky is not None]), axis=0)
        if all(f.sky is not None for f in frames)
        else None
    )
    args = {
        **first.reduction_args,
        "ENGINE": ENGINE_NAME,
        "COMBINED_FILES": " ".join(Path(p).name for p in reds),
    }
    combined = ReducedFrame(
        flux=mean,
        wavelength=first.wavelength,
        fibres=first.fibres,
        variance=mean_var,
        sky=sky,
        header=h,
        reduction_args=args,
    )
    return write_2dfdr(combined, out)


def _per_angstrom(frame: ReducedFrame, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = float(grid[1] - grid[0])
    flux, var = resample(
        frame.flux, frame.variance, np.broadcast_to(frame.wavelength, frame.flux.shape), grid
    )
    inside = (grid >= frame.wavelength[0]) & (grid <= frame.wavelength[-1])
    flux[:, ~inside] = np.nan
    var[:, ~inside] = np.nan
    return flux / step, var / step**2


def splice(blue: str | Path, red: str | Path, out: str | Path) -> Path:
    """Blue and red spectra of the same fibres on one grid (counts per Angstrom)."""
    b, r = read_2dfdr(blue), read_2dfdr(red)
    if b.n_fibres != r.n_fibres or list(b.fibres["NAME"]) != list(r.fibres["NAME"]):
        raise DataError(f"{Path(blue).name} and {Path(red).name} have different fibre tables")
    if b.wavelength[0] > r.wavelength[0]:
        b, r, blue, red = r, b, red, blue
    step = float(min(np.diff(b.wavelength[:2])[0], np.diff(r.wavelength[:2])[0]))
    start, stop = float(b.wavelength[0]), float(r.wavelength[-1])
    grid = start + step * np.arange(int(np.floor((stop - start) / step)) + 1)
    parts = [_per_angstrom(f, grid) for f in (b, r)]
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = [np.where(np.isfinite(v) & (v > 0), 1.0 / v, 0.0) for _, v in parts]
        total = weights[0] + weights[1]
        flux = sum(np.nan_to_num(f) * w for (f, _), w in zip(parts, weights, strict=True)) / total
        var = 1.0 / total
    flux[total == 0] = np.nan
    var[total == 0] = np.nan
    h = b.header.copy()
    h["BUNIT"] = "electron / Angstrom"
    h.add_history(f"Splicing blue and red data frames {Path(blue).name} {Path(red).name}")
    args = {"ENGINE": ENGINE_NAME, "SPLICED_FILES": f"{Path(blue).name} {Path(red).name}"}
    sky = None
    if b.sky is not None and r.sky is not None:
        sky_parts = [
            _per_angstrom(
                ReducedFrame(f.sky[None], f.wavelength, f.fibres[:1], np.ones((1, f.sky.size))),
                grid,
            )[0][0]
            for f in (b, r)
        ]
        sky = np.where(np.isfinite(sky_parts[1]), sky_parts[1], sky_parts[0])
    spliced = ReducedFrame(
        flux=flux,
        wavelength=grid,
        fibres=b.fibres,
        variance=var,
        sky=sky,
        header=h,
        reduction_args=args,
    )
    return write_2dfdr(spliced, out)
