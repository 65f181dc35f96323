"""2dfdr-format reduced frames: reading any 2dfdr product, writing ours the same way.

Layout (what 2dfdr writes and specutils' "Data Central AAOmega" loader expects): primary
image of NFIB x NPIX flux (1-D for a single fibre), ``VARIANCE``, the ``FIBRES`` table (RA
and DEC in radians) at HDU 2, ``SKY``, ``REDUCTION_ARGS``, optionally ``RWSS`` (spectra
before sky subtraction); wavelengths from the linear WCS (CRVAL1/CDELT1/CRPIX1, Angstrom)
or a ``WAVELENGTH`` extension (Angstrom, or log10 of Angstrom in some products). Air
wavelengths unless the header says ``VACUUM = T``. IFU instruments (SAMI, Hector) carry
``FIBRES_IFU``: its positions (``FIB_MRA``/``FIB_MDEC``) are degrees already, and each fibre
names its hexabundle (``PROBENAME``) and probe (``PROBENUM``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import QTable, Table

from ..errors import Invalid
from ..instrument.aat import FIBRE_TABLE_NAMES


@dataclass
class ReducedFrame:
    """Spectra of one reduced frame.

    Attributes
    ----------
    flux, variance : numpy.ndarray
        Shape (n_fibres, n_pixels); variance may be None.
    wavelength : numpy.ndarray
        Angstrom, shape (n_pixels,) or (n_fibres, n_pixels).
    fibres : astropy.table.QTable
        The fibre table; ``RA`` and ``DEC`` are Quantities in degrees.
    sky : numpy.ndarray or None
        The sky spectrum subtracted (n_pixels,).
    rwss : numpy.ndarray or None
        Spectra without sky subtraction.
    header : astropy.io.fits.Header
        The primary header.
    reduction_args : dict
        2dfdr's (or our engine's) reduction arguments.
    """

    flux: np.ndarray
    wavelength: np.ndarray
    fibres: QTable
    variance: np.ndarray | None = None
    sky: np.ndarray | None = None
    rwss: np.ndarray | None = None
    header: fits.Header = field(default_factory=fits.Header)
    reduction_args: dict = field(default_factory=dict)

    @property
    def n_fibres(self) -> int:
        return self.flux.shape[0]

    @property
    def medium(self) -> str:
        """``"vacuum"`` or ``"air"``: what the wavelengths are measured in (2dfdr: air
        unless ``VACUUM`` is set)."""
        return "vacuum" if self.header.get("VACUUM", False) is True else "air"

    def fibre_wavelength(self, i: int) -> u.Quantity:
        w = self.wavelength if self.wavelength.ndim == 1 else self.wavelength[i]
        return w * u.AA

    def field(self) -> dict:
        """The field: ``name``, ``centre`` (SkyCoord or None), ``exposure`` (Quantity, s),
        ``date``, ``grating``, ``plate``; from the primary header and the fibre table's."""
        from astropy.coordinates import SkyCoord

        h, meta = self.header, self.fibres.meta
        centre = None
        if "CENRA" in meta and "CENDEC" in meta:  # radians, as 2dF's configure writes them
            centre = SkyCoord(meta["CENRA"] * u.rad, meta["CENDEC"] * u.rad)
        elif "MEANRA" in h and "MEANDEC" in h:
            centre = SkyCoord(h["MEANRA"] * u.deg, h["MEANDEC"] * u.deg)
        exposed = total_exposure(h)
        return {
            "name": str(h.get("OBJECT") or meta.get("LABEL") or ""),
            "centre": centre,
            "exposure": None if exposed is None else float(exposed) * u.s,
            "date": str(h.get("UTDATE", "")).replace(":", "-"),
            "grating": str(h.get("GRATID", "")),
            "plate": meta.get("PLATEID"),
        }

    def spectrum(self, i: int):
        """Fibre ``i`` (from 0) as a ``specutils.Spectrum`` with its variance and the
        fibre's row in ``meta``; flux in counts (2dfdr products are not flux-calibrated)."""
        from astropy.nddata import VarianceUncertainty
        from specutils import Spectrum

        flux = self.flux[i] * u.count
        var = None if self.variance is None else VarianceUncertainty(self.variance[i] * u.count**2)
        row = {c: self.fibres[c][i] for c in self.fibres.colnames}
        return Spectrum(
            flux=flux,
            spectral_axis=self.fibre_wavelength(i),
            uncertainty=var,
            meta={"fibre": row, "medium": self.medium, "header": self.header},
        )

    def spectra(self):
        """Every fibre as a ``specutils.SpectrumList`` (one Spectrum per fibre)."""
        from specutils import SpectrumList

        return SpectrumList(self.spectrum(i) for i in range(self.n_fibres))


def total_exposure(header: fits.Header) -> float | None:
    """The exposure time (s) behind a product's spectra: a combination's total. 2dfdr's
    combined files keep the total in ``EXPOSED``; the built-in engine's (which say
    ``NCOMBINE``) keep the mean there and the total in ``TOTALEXP``."""
    if "NCOMBINE" in header and "TOTALEXP" in header:
        return float(header["TOTALEXP"])
    value = header.get("EXPOSED", header.get("EXPTIME"))
    return None if value is None else float(value)


def _as_2d(data, rows: slice = slice(None)) -> np.ndarray | None:
    if data is None:
        return None
    if data.ndim == 1:
        data = data[None, :]
    return np.asarray(data[rows], dtype=float)


def _wcs_wavelength(h: fits.Header, n: int) -> np.ndarray:
    crval, cdelt = float(h["CRVAL1"]), float(h.get("CDELT1", h.get("CD1_1", 1.0)))
    crpix = float(h.get("CRPIX1", 1.0))
    return crval + (np.arange(n) + 1 - crpix) * cdelt


_TABLE_META = ("CENRA", "CENDEC", "CENEQNX", "LABEL", "PLATEID", "FILENAME")


def fibre_table(hdu: fits.BinTableHDU) -> QTable:
    """A 2dF or IFU fibre table as a QTable: ``RA`` and ``DEC`` in degrees (2dF's have
    radians, an IFU table's ``FIB_MRA``/``FIB_MDEC`` degrees), names stripped of FITS
    padding, the field's centre and label in ``meta``."""
    fibres = QTable(hdu.data)
    for col in ("RA", "DEC"):
        if col in fibres.colnames:
            fibres[col] = np.degrees(np.asarray(fibres[col], float)) * u.deg
        elif f"FIB_M{col}" in fibres.colnames:
            fibres[col] = np.asarray(fibres[f"FIB_M{col}"], float) * u.deg
    for col in fibres.colnames:
        if fibres[col].dtype.kind in "SU":
            fibres[col] = np.char.strip(np.asarray(fibres[col]).astype(str))
    fibres.meta.update({k: hdu.header[k] for k in _TABLE_META if k in hdu.header})
    return fibres


def read_2dfdr(path: str | Path, fibres: slice | None = None) -> ReducedFrame:
    """Read a 2dfdr reduced, combined or spliced file (or one of ours); with ``fibres``
    (a slice of rows) only those fibres, read from the memory-mapped file (a spectrum of a
    large product costs its own pixels, not the product's)."""
    rows = slice(None) if fibres is None else fibres
    with fits.open(path, memmap=True) as hdul:
        names = [h.name for h in hdul]
        h = hdul[0].header.copy()
        flux = _as_2d(hdul[0].data, rows)
        if flux is None:
            raise Invalid(f"{path}: the primary HDU holds no spectra")

        def ext(name):
            return _as_2d(hdul[name].data, rows) if name in names else None

        variance = ext("VARIANCE")
        rwss = ext("RWSS")
        sky = hdul["SKY"].data.astype(float) if "SKY" in names else None
        if "WAVELENGTH" in names:
            wave = np.asarray(hdul["WAVELENGTH"].data, dtype=float)
            if wave.ndim > 1 and wave.shape[0] > 1:
                wave = wave[rows]
            if np.nanmax(wave) < 10:  # some products store log10(Angstrom)
                wave = 10.0**wave
        else:
            wave = _wcs_wavelength(h, flux.shape[1])
        table_name = next((n for n in FIBRE_TABLE_NAMES if n in names), None)
        if table_name is None:
            raise Invalid(f"{path}: no fibre table (FIBRES) found")
        table = fibre_table(hdul[table_name])
        fibre_rows = table[rows]
        fibre_rows.meta.update(table.meta)
        args = {}
        if "REDUCTION_ARGS" in names:
            for row in hdul["REDUCTION_ARGS"].data:
                args[str(row[0]).strip()] = str(row[1]).strip()
    if wave.ndim > 1 and wave.shape[0] == 1:
        wave = wave[0]
    return ReducedFrame(flux, wave, fibre_rows, variance, sky, rwss, h, args)


def write_2dfdr(frame: ReducedFrame, path: str | Path) -> Path:
    """Write ``frame`` in 2dfdr's layout, FIBRES at HDU 2 and a linear wavelength WCS."""
    wave = frame.wavelength
    if wave.ndim != 1:
        raise ValueError("write_2dfdr needs one wavelength grid shared by all fibres")
    step = np.diff(wave)
    if not np.allclose(step, step[0], rtol=1e-6):
        raise ValueError("write_2dfdr needs a linear wavelength grid")
    h = frame.header.copy()
    h["CRVAL1"], h["CDELT1"], h["CRPIX1"] = float(wave[0]), float(step[0]), 1.0
    h["CTYPE1"], h["CUNIT1"] = "Wavelength", "Angstroms"
    h.setdefault("INSTRUME", "AAOMEGA-2dF")
    fibres = frame.fibres.copy()
    for col in ("RA", "DEC"):
        fibres[col] = np.radians(u.Quantity(fibres[col], u.deg).value)
    if len(fibres) != frame.n_fibres:
        raise ValueError(f"{len(fibres)} fibre-table rows for {frame.n_fibres} spectra")
    variance = frame.variance if frame.variance is not None else np.zeros_like(frame.flux)
    sky = frame.sky if frame.sky is not None else np.zeros(frame.flux.shape[1])
    reduction_args = frame.reduction_args or {"ENGINE": "hectornb"}
    args = Table(
        {
            "ARG_NAME": list(reduction_args),
            "ARG_VALUE": [str(v) for v in reduction_args.values()],
        }
    )
    hdus = [
        fits.PrimaryHDU(frame.flux.astype(np.float32), header=h),
        fits.ImageHDU(variance.astype(np.float32), name="VARIANCE"),
        fits.BinTableHDU(fibres, name="FIBRES"),
        fits.ImageHDU(np.asarray(sky, np.float32), name="SKY"),
        fits.BinTableHDU(args, name="REDUCTION_ARGS"),
    ]
    if frame.rwss is not None:
        hdus.append(fits.ImageHDU(frame.rwss.astype(np.float32), name="RWSS"))
    return write_atomic(fits.HDUList(hdus), path)


def write_atomic(hdul: fits.HDUList, path: str | Path) -> Path:
    """Write ``hdul`` to ``path`` so that readers see the old file or the new, never half.

    A step re-run after a killed worker may write the same product again while a reader
    has it open; the rename is atomic on POSIX file systems.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        hdul.writeto(part, overwrite=True, output_verify="exception")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path
