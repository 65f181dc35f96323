"""The built-in engine's tasks under 2dFdr's names, each from files to a product file.

One task per 2dFdr command, each a pure function of its input files and options, writing
one product atomically: a task re-run (a retry, a killed worker) writes the same bytes.

- `combine_calibration`: master bias or dark (``BIAScombined.fits``, ``DARKcombined<s>.fits``);
- `make_tlm`: tramline map from a fibre flat (``<root>tlm.fits``: trace row of every fibre
  at every column, NaN for unlit fibres; ``TLMSIGMA`` the profile width in rows);
- `reduce_arc`: extracted arc with the wavelength of every pixel of every fibre
  (``<root>red.fits`` with a ``WAVELENGTH`` extension, Angstrom; ``ARCRMS`` in pixels);
- `reduce_fflat`: the fibre flat on the common linear grid (``<root>red.fits``), relative to
  the median fibre;
- `reduce_object`: a calibrated, sky-subtracted object frame (``<root>red.fits``);

Combining exposures and splicing arms are in `.merge`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from ...instrument import arc_lines
from ...spectra.io import ReducedFrame, fibre_table, read_2dfdr, write_2dfdr, write_atomic
from . import pipeline
from .calibrate import fibre_flat, linear_grid, resample
from .extract import extract
from .pipeline import ArmCalibration
from .preprocess import Image, combine
from .tramlines import TramlineMap, find_tramlines
from .wavelength import fit_arc

ENGINE_NAME = "hectornb-builtin"
# keywords of the raw image layout that mean nothing on a product
_RAW_ONLY = ("BZERO", "BSCALE", "BLANK", "DATASEC", "BIASSEC")


def _header(raw: fits.Header, history: Sequence[str]) -> fits.Header:
    h = fits.Header(
        [c for c in raw.cards if c.keyword not in _RAW_ONLY and not c.keyword.startswith("NAXIS")]
    )
    for line in history:
        h.add_history(line)
    return h


def _load_master(path: str | Path | None) -> Image | None:
    if path is None:
        return None
    with fits.open(path) as hdul:
        return Image(
            hdul[0].data.astype(float), hdul["VARIANCE"].data.astype(float), hdul[0].header.copy()
        )


def _preprocess(path: str | Path, bias=None) -> Image:
    return pipeline.raw_image(path, bias=_load_master(bias))


def _fibres(path: str | Path):
    with fits.open(path) as hdul:
        return fibre_table(hdul["FIBRES"])


def combine_calibration(
    raws: Sequence[str | Path], out: str | Path, bias: str | Path | None = None
) -> Path:
    """Median-combine bias or dark frames (in electrons, overscan removed) into ``out``."""
    images = [_preprocess(p, bias=bias) for p in raws]
    master = combine(images)
    names = ", ".join(Path(p).name for p in raws)
    h = _header(master.header, [f"Median of {len(raws)} frames: {names}"])
    h["NCOMBINE"] = len(raws)
    h["BUNIT"] = "electron"
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(master.data.astype(np.float32), header=h),
            fits.ImageHDU(master.variance.astype(np.float32), name="VARIANCE"),
        ]
    )
    return write_atomic(hdul, out)


def make_tlm(
    flat: str | Path,
    out: str | Path,
    bias: str | Path | None = None,
    options: Mapping[str, str] | None = None,
) -> Path:
    """Trace every fibre of a fibre flat; identify them against its fibre table."""
    types = np.asarray(_fibres(flat)["TYPE"])
    image = _preprocess(flat, bias=bias)
    tlm = find_tramlines(image.data, types)
    h = _header(image.header, [f"Tramline map from {Path(flat).name}"])
    h["TLMSIGMA"] = (tlm.sigma, "Gaussian spatial profile sigma (rows)")
    h["NLIT"] = (int(tlm.lit.sum()), "fibres traced")
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(tlm.centres, header=h),
            fits.BinTableHDU(fits.getdata(flat, "FIBRES"), name="FIBRES"),
        ]
    )
    return write_atomic(hdul, out)


def read_tlm(path: str | Path) -> TramlineMap:
    """A tramline map written by `make_tlm`."""
    with fits.open(path) as hdul:
        centres = hdul[0].data.astype(float)
        sigma = float(hdul[0].header["TLMSIGMA"])
    return TramlineMap(centres, np.isfinite(centres).all(axis=1), sigma)


def reduce_arc(
    arc: str | Path,
    tlm: str | Path,
    out: str | Path,
    bias: str | Path | None = None,
    options: Mapping[str, str] | None = None,
    lines: np.ndarray | None = None,
) -> Path:
    """Extract an arc and fit a wavelength solution per fibre."""
    image = _preprocess(arc, bias=bias)
    flux, var = extract(image, read_tlm(tlm))
    solution = fit_arc(flux, var, image.header, arc_lines() if lines is None else lines)
    lit = np.isfinite(solution.rms_pixels)
    h = _header(
        image.header,
        [
            f"Extracted using tram map {Path(tlm).name}",
            "Wavelength solution per fibre from arc lines",
        ],
    )
    h["ARCRMS"] = (float(np.median(solution.rms_pixels[lit])), "median fit RMS (pixels)")
    h["ARCRMSMX"] = (float(np.max(solution.rms_pixels[lit])), "worst fibre's fit RMS (pixels)")
    h["CTYPE2"] = "Fibre Number"
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(flux.astype(np.float32), header=h),
            fits.ImageHDU(var.astype(np.float32), name="VARIANCE"),
            fits.BinTableHDU(fits.getdata(arc, "FIBRES"), name="FIBRES"),
            fits.ImageHDU(solution.wavelength, name="WAVELENGTH"),
            fits.ImageHDU(solution.rms_pixels, name="ARCRMS"),
        ]
    )
    hdul["WAVELENGTH"].header["BUNIT"] = "Angstrom"
    return write_atomic(hdul, out)


def reduce_fflat(
    flat: str | Path,
    tlm: str | Path,
    arc: str | Path,
    out: str | Path,
    bias: str | Path | None = None,
    options: Mapping[str, str] | None = None,
) -> Path:
    """The fibre flat on the common linear grid: each fibre relative to the median fibre."""
    tramlines = read_tlm(tlm)
    wavelength = fits.getdata(arc, "WAVELENGTH").astype(float)
    grid = linear_grid(wavelength, tramlines.lit)
    image = _preprocess(flat, bias=bias)
    flux, var = resample(*extract(image, tramlines), wavelength, grid)
    response = fibre_flat(flux, tramlines.lit)
    with np.errstate(invalid="ignore", divide="ignore"):
        response_var = var / np.nanmedian(flux[tramlines.lit], axis=0) ** 2
    frame = ReducedFrame(
        flux=response,
        wavelength=grid,
        fibres=_fibres(flat),
        variance=response_var,
        header=_header(
            image.header,
            [
                f"Extracted using tram map {Path(tlm).name}",
                f"Wavelengths from {Path(arc).name}",
                "Fibre flat field relative to the median fibre",
            ],
        ),
        reduction_args={
            "ENGINE": ENGINE_NAME,
            "TLMAP_FILENAME": Path(tlm).name,
            "WAVEL_FILENAME": Path(arc).name,
        },
    )
    return write_2dfdr(frame, out)


def read_calibration(tlm: str | Path, arc: str | Path, fflat: str | Path) -> ArmCalibration:
    """An arm's calibration from the products of `make_tlm`, `reduce_arc`, `reduce_fflat`."""
    tramlines = read_tlm(tlm)
    flat = read_2dfdr(fflat)
    return ArmCalibration(
        np.asarray(flat.fibres["TYPE"]),
        tramlines,
        fits.getdata(arc, "WAVELENGTH").astype(float),
        flat.wavelength,
        flat.flux,
    )


def reduce_object(
    obj: str | Path,
    tlm: str | Path,
    arc: str | Path,
    fflat: str | Path,
    out: str | Path,
    bias: str | Path | None = None,
    dark: str | Path | None = None,
    options: Mapping[str, str] | None = None,
) -> Path:
    """Reduce one object frame with `pipeline.reduce_object`; write ``<root>red.fits``."""
    use_bias = bias is not None and pipeline.option(options, "USEBIASIM", "1") == "1"
    use_dark = dark is not None and pipeline.option(options, "USEDARKIM", "1") == "1"
    reduced = pipeline.reduce_object(
        read_calibration(tlm, arc, fflat),
        obj,
        bias=_load_master(bias) if use_bias else None,
        dark=_load_master(dark) if use_dark else None,
        options=options,
    )
    with fits.open(obj) as hdul:
        used = f"Tram map {Path(tlm).name}, arc {Path(arc).name}, fibre flat {Path(fflat).name}"
        h = _header(hdul[0].header, [used, *reduced.history])
        fibres = fibre_table(hdul["FIBRES"])
    h["BUNIT"] = "electron / pixel"
    if reduced.cosmic_pixels is not None:
        h["NCOSMIC"] = (reduced.cosmic_pixels, "pixels rejected as cosmic rays")
    if reduced.sky_features:  # what the sky-line wavelength correction (SKYSCRUNCH) used
        h["SKYFEAT"] = (reduced.sky_features, "SKYSCRUNCH: sky features its zero point used")
        h["SKYSHIFT"] = (
            round(float(np.nanmedian(reduced.sky_shift)), 4),
            "SKYSCRUNCH: median shift removed (Angstrom)",
        )
        if np.isfinite(reduced.sky_shift_error):
            h["SKYSHERR"] = (
                round(float(reduced.sky_shift_error), 4),
                "SKYSCRUNCH: its standard error (Angstrom)",
            )
    args = {
        "ENGINE": ENGINE_NAME,
        **{k: str(v) for k, v in (options or {}).items()},
        "TLMAP_FILENAME": Path(tlm).name,
        "WAVEL_FILENAME": Path(arc).name,
        "FFLAT_FILENAME": Path(fflat).name,
    }
    if use_bias:
        args["BIAS_FILENAME"] = Path(bias).name
    if use_dark:
        args["DARK_FILENAME"] = Path(dark).name
    frame = ReducedFrame(
        flux=reduced.spectra,
        wavelength=reduced.grid,
        fibres=fibres,
        variance=reduced.variance,
        sky=reduced.sky,
        rwss=reduced.rwss,
        header=h,
        reduction_args=args,
    )
    return write_2dfdr(frame, out)
