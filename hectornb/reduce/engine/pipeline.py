"""The engine's steps chained: calibrate one arm, then reduce object frames with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from ...instrument import arc_lines
from .calibrate import fibre_flat, linear_grid, resample, subtract_sky
from .extract import extract
from .preprocess import preprocess
from .tramlines import TramlineMap, find_tramlines
from .wavelength import fit_arc


@dataclass
class ArmCalibration:
    """What a fibre flat and an arc give one arm: where, which wavelength, how sensitive."""

    types: np.ndarray  # fibre-table TYPE, slit order
    tramlines: TramlineMap
    wavelength: np.ndarray  # (n_fibres, n_pixels), Angstrom
    grid: np.ndarray  # the common linear grid, Angstrom
    fibre_flat: np.ndarray  # (n_fibres, n_grid), relative to the median fibre


@dataclass
class ObjectSpectra:
    """A sky-subtracted object frame on the common grid (counts per grid pixel)."""

    spectra: np.ndarray
    variance: np.ndarray
    sky: np.ndarray
    grid: np.ndarray


def calibrate_arm(flat: Path, arc: Path, lines: np.ndarray | None = None) -> ArmCalibration:
    """Tramlines and fibre flat from ``flat``, a wavelength solution from ``arc``."""
    types = np.array(fits.getdata(flat, "FIBRES")["TYPE"])
    flat_image = preprocess(fits.getdata(flat), fits.getheader(flat))
    tramlines = find_tramlines(flat_image.data, types)
    arc_header = fits.getheader(arc)
    arc_flux, arc_var = extract(preprocess(fits.getdata(arc), arc_header), tramlines)
    lines = arc_lines() if lines is None else lines
    wavelength = fit_arc(arc_flux, arc_var, arc_header, lines).wavelength
    grid = linear_grid(wavelength, tramlines.lit)
    flat_on_grid, _ = resample(*extract(flat_image, tramlines), wavelength, grid)
    return ArmCalibration(types, tramlines, wavelength, grid,
                          fibre_flat(flat_on_grid, tramlines.lit))  # fmt: skip


def reduce_object(cal: ArmCalibration, path: Path, dark: Path | None = None) -> ObjectSpectra:
    """Dark, extraction, resampling, fibre flat and sky subtraction of one object frame."""
    dark_image = preprocess(fits.getdata(dark), fits.getheader(dark)) if dark else None
    image = preprocess(fits.getdata(path), fits.getheader(path), dark=dark_image)
    flux, var = extract(image, cal.tramlines)
    flux, var = resample(flux, var, cal.wavelength, cal.grid)
    sky_fibres = cal.tramlines.lit & (cal.types == "S")
    spectra, variance, sky = subtract_sky(
        flux / cal.fibre_flat, var / cal.fibre_flat**2, sky_fibres
    )
    return ObjectSpectra(spectra, variance, sky, cal.grid)
