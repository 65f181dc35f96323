"""Reduced spectra as the Virtual Observatory describes them: ObsCore records and files.

Each program-target fibre of a reduced product is one spectrum with its own publisher DID,
``ivo://<authority>/spectra?<product key>/<fibre>``; the product key is the product's
folder (one per set of identical requests) and file name, so a DID names the same
spectrum for as long as the product exists. `spectrum_records` describes a product's
spectra in ObsCore 1.1's terms (SI units: wavelengths in metres, times in MJD) and
`spectrum_file` writes one of them as a FITS table that specutils reads with no format
hint (``tabular-fits``) and TOPCAT and SPLAT open: ``wavelength`` (Å), ``flux`` and
``uncertainty`` (counts; the products are not flux-calibrated).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..errors import Invalid, NotFound
from ..instrument.aat import FIBRE_DIAMETER_ARCSEC, LINE_FWHM_PIXELS, instrument_of
from .io import ReducedFrame, total_exposure

#: Calibration level (ObsCore) by the task that wrote the product.
CALIB_LEVEL = {"reduce_object": 2, "combine_image": 3, "splice": 3}
#: The fibre types that hold a science target.
PROGRAM_TYPES = ("P",)
FACILITY = "AAT"
INSTRUMENT = {"2df": "AAOmega+2dF", "hector": "AAOmega+Hector"}
COLLECTION = {"2df": "2dF-AAOmega", "hector": "Hector"}
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT}){{1,7}}")


def product_key(path: str | Path, root: str | Path | None = None) -> str:
    """The product's path below the reductions' folder ``root``, without ``.fits``
    (``<request folder>/<night>/ccd_<n>/<product>``); for a product elsewhere, its folder
    and file stem."""
    path = Path(path)
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).with_suffix("").as_posix()
        except ValueError:
            pass
    return f"{path.parent.name}/{path.stem}"


def publisher_did(authority: str, key: str, fibre: int) -> str:
    """The spectrum's IVOA identifier (fibre counted from 0)."""
    return f"ivo://{authority}/spectra?{key}/{int(fibre)}"


def parse_did(did: str, authority: str) -> tuple[str, int]:
    """(product key, fibre) of a DID this platform gave, or `NotFound`."""
    prefix = f"ivo://{authority}/spectra?"
    if not str(did).startswith(prefix):
        raise NotFound(f"{did!r} is not a spectrum of this service (its DIDs begin {prefix})")
    key, _, fibre = str(did)[len(prefix) :].rpartition("/")
    if not _KEY.fullmatch(key) or not re.fullmatch(r"[0-9]{1,6}", fibre):
        raise NotFound(f"{did!r} is not a spectrum of this service")
    return key, int(fibre)


def _mjd(header: fits.Header) -> tuple[float | None, float | None, float | None]:
    """(start MJD, end MJD, exposure s). A combination keeps its first frame's start: its
    end is then that start plus the total exposure, the least the exposures spanned."""
    start = header.get("UTMJD")
    exposed = total_exposure(header)
    if start is None:
        return None, None, exposed
    if exposed is None:
        return float(start), float(start), None
    return float(start), float(start) + exposed / 86400.0, exposed


def resolving_power(wave: np.ndarray, instrument: str) -> float:
    """λ/Δλ at the middle of ``wave`` (Å): the line width on the detector (pixels) times
    the dispersion there."""
    mid = len(wave) // 2
    dispersion = float(np.median(np.abs(np.diff(wave[max(0, mid - 50) : mid + 50]))))
    return float(wave[mid]) / (LINE_FWHM_PIXELS[instrument] * dispersion)


def spectrum_records(
    frame: ReducedFrame, path: str | Path, task: str, authority: str, key: str | None = None
) -> list[dict]:
    """One ObsCore record per program-target fibre of the product at ``path`` (written by
    ``task``; ``key`` names it in the DIDs, `product_key` by default). Fibres with no
    position are left out: nothing could find them."""
    if task not in CALIB_LEVEL:
        raise Invalid(f"{task!r} does not write spectra (one of {', '.join(CALIB_LEVEL)})")
    h = frame.header
    instrument = instrument_of(h)
    diameter = FIBRE_DIAMETER_ARCSEC[instrument]
    t_min, t_max, t_exptime = _mjd(h)
    key = key or product_key(path)
    if not _KEY.fullmatch(key):
        raise Invalid(
            f"{key!r} cannot name spectra: a product's folders and name must be letters, "
            "digits and . _ + - (at most 8 levels)"
        )
    fibres = frame.fibres
    kinds = np.asarray(fibres["TYPE"]).astype(str) if "TYPE" in fibres.colnames else None
    names = np.asarray(fibres["NAME"]).astype(str)
    ra = np.asarray(getattr(fibres["RA"], "value", fibres["RA"]), float)
    dec = np.asarray(getattr(fibres["DEC"], "value", fibres["DEC"]), float)
    out = []
    for i in range(frame.n_fibres):
        if kinds is not None and kinds[i] not in PROGRAM_TYPES:
            continue
        if not (np.isfinite(ra[i]) and np.isfinite(dec[i])):
            continue
        wave = np.asarray(frame.fibre_wavelength(i).value, float)
        good = np.isfinite(frame.flux[i]) & np.isfinite(wave)
        if not good.any():
            continue
        lo, hi = float(np.min(wave[good])), float(np.max(wave[good]))
        out.append(
            {
                "did": publisher_did(authority, key, i),
                "product": str(path),
                "fibre": i,
                "task": task,
                "aaoprgid": str(h.get("AAOPRGID", "") or "").strip(),
                "calib_level": CALIB_LEVEL[task],
                "obs_collection": COLLECTION[instrument],
                # the product below its request's folder (night, arm, name) and the fibre, as in
                # the DID: unique per arm and product
                "obs_id": f"{key.split('/', 1)[-1]}/{i}",
                "target_name": printable(names[i]),
                "s_ra": float(ra[i]) % 360.0,
                "s_dec": float(dec[i]),
                "s_fov": diameter / 3600.0,
                "s_resolution": diameter,
                "t_min": t_min,
                "t_max": t_max,
                "t_exptime": t_exptime,
                "em_min": lo * 1e-10,
                "em_max": hi * 1e-10,
                "em_res_power": resolving_power(wave, instrument),
                "em_xel": int(good.sum()),
                "facility_name": FACILITY,
                "instrument_name": INSTRUMENT[instrument],
                "access_estsize": max(1, (int(good.sum()) * 24 + 8640) // 1000),
                "medium": frame.medium,
            }
        )
    return out


def spectrum_file(
    frame: ReducedFrame, fibre: int, did: str, band: tuple[float, float] | None = None
) -> fits.HDUList:
    """Fibre ``fibre`` of ``frame`` as a one-spectrum FITS table: ``wavelength`` (Å, in the
    product's medium), ``flux`` and ``uncertainty`` (1σ, counts), with the target, its
    position and the DID in the primary header. ``band`` (metres, low and high) keeps
    only the pixels inside it (a SODA cutout); an empty cut is `Invalid`."""
    if not 0 <= fibre < frame.n_fibres:
        raise NotFound(f"{did}: the product has no fibre {fibre}")
    wave = np.asarray(frame.fibre_wavelength(fibre).value, float)
    flux = np.asarray(frame.flux[fibre], float)
    var = None if frame.variance is None else np.asarray(frame.variance[fibre], float)
    # a variance of 0 marks a pixel with no data (2dfdr's convention): its error is unknown
    error = np.full_like(flux, np.nan)
    if var is not None:
        error[var > 0] = np.sqrt(var[var > 0])
    keep = np.isfinite(wave)
    if band is not None:
        lo, hi = sorted(band)
        keep &= (wave >= lo * 1e10) & (wave <= hi * 1e10)
        if not (keep & np.isfinite(flux)).any():  # outside it, or in a spliced gap
            raise Invalid(
                f"BAND {lo:.6g} {hi:.6g} m holds none of this spectrum "
                f"({np.nanmin(wave) * 1e-10:.6g}–{np.nanmax(wave) * 1e-10:.6g} m)"
            )
    row = frame.fibres[fibre]
    h = fits.Header()
    h["OBJECT"] = (printable(row["NAME"]).encode("ascii", "replace").decode(), "target")
    h["RA"] = (float(u_value(row["RA"])), "fibre RA (deg, ICRS)")
    h["DEC"] = (float(u_value(row["DEC"])), "fibre Dec (deg, ICRS)")
    h["PUBDID"] = (did, "publisher DID (IVOA)")
    for card in ("UTDATE", "UTMJD", "EXPOSED", "GRATID", "INSTRUME", "AAOPRGID"):
        if card in frame.header:
            h[card] = frame.header[card]
    h["AIRORVAC"] = (frame.medium, "wavelengths in air or vacuum")
    cols = [
        fits.Column("wavelength", "D", unit="Angstrom", array=wave[keep]),
        fits.Column("flux", "D", unit="count", array=flux[keep]),
        fits.Column("uncertainty", "D", unit="count", array=error[keep]),
    ]
    return fits.HDUList([fits.PrimaryHDU(header=h), fits.BinTableHDU.from_columns(cols)])


def printable(text) -> str:
    """``text`` without control characters (a fibre table's name may hold any byte; XML
    and FITS headers cannot)."""
    return "".join(ch for ch in str(text) if ch.isprintable()).strip()


def u_value(x) -> float:
    """A Quantity's value, or the number itself."""
    return float(getattr(x, "value", x))
