"""AAOmega arms and gratings, and the AAT's raw file names.

Raw frames live in ``<yymmdd>/ccd_<n>/DDmmmCNNNN.fits``: day, lower-case month, the CCD digit
(1 blue, 2 red for AAOmega) and a four-digit run number. The year is not in the file name;
it comes from the night directory.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ..errors import Invalid, quote_field

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RAW = re.compile(r"(?P<day>[0-3]\d)(?P<mon>[a-z]{3})(?P<ccd>[1-4])(?P<run>\d{4})\.fits?", re.I)


@dataclass(frozen=True)
class Arm:
    """One AAOmega camera.

    ``gain`` is inverse gain (e-/ADU) and ``read_noise`` in electrons, NORMAL read-out speed,
    as measured values in real headers (RO_GAIN, RO_NOISE).
    """

    ccd: int
    name: str
    spectid: str
    detector: str
    gain: float
    read_noise: float


ARMS: dict[int, Arm] = {
    1: Arm(1, "blue", "BL", "E2V2A", 1.88, 3.61),
    2: Arm(2, "red", "RD", "E2V3A", 1.99, 4.25),
}


@dataclass(frozen=True)
class Grating:
    """An AAOmega VPH grating: lines per mm, dispersion (Angstrom/pixel), usual centre."""

    name: str
    lines_per_mm: float
    dispersion: float
    central_wavelength: float
    arm: int


GRATINGS: dict[str, Grating] = {
    # 385R dispersion from real headers (DISPERS); others from their 2048-pixel coverage
    "580V": Grating("580V", 582.0, 2100.0 / 2048, 4800.0, 1),
    "385R": Grating("385R", 383.0, 1.568, 7250.0, 2),
    "1000R": Grating("1000R", 1001.0, 1100.0 / 2048, 6850.0, 2),
}


#: FWHM of a line on an AAOmega detector (pixels), by fibre core: 2dF 140 µm, Hector 105 µm.
LINE_FWHM_PIXELS = {"2df": 3.1, "hector": 3.1 * 105 / 140}
#: A fibre's diameter on the sky (arcsec): 2dF's 140 µm fibres, and one core of a Hector
#: hexabundle (a 61-core bundle is 15.1").
FIBRE_DIAMETER_ARCSEC = {"2df": 2.1, "hector": 1.6}


def instrument_of(header) -> str:
    """``"hector"`` or ``"2df"``: which fibre feed a frame's ``INSTRUME`` names."""
    return "hector" if "HECTOR" in str(header.get("INSTRUME", "")).upper() else "2df"


#: The extension names of a raw frame's or a product's fibre table (2dF, AAOmega, Hector).
FIBRE_TABLE_NAMES = ("FIBRES", "FIBRES_IFU", "MORE.FIBRES_IFU")

#: The AAT's longitude, Siding Spring Observatory (degrees east).
AAT_LONGITUDE = 149.0661


def night_time(
    night: dt.date, time_of_day: dt.time, longitude: float = AAT_LONGITUDE
) -> dt.datetime:
    """The UT instant of ``time_of_day`` (UT) during ``night`` (the local date of its evening).

    Of the three days around the night, the instant nearest the site's local midnight: at
    the AAT (UT+10 h) the whole night falls on the evening's UT date; at a site west of
    Greenwich the morning hours fall on the next UT date.
    """
    midnight = dt.datetime.combine(night + dt.timedelta(days=1), dt.time(), dt.UTC) - dt.timedelta(
        hours=longitude / 15.0
    )
    candidates = (
        dt.datetime.combine(night + dt.timedelta(days=d), time_of_day, dt.UTC) for d in (-1, 0, 1)
    )
    return min(candidates, key=lambda t: abs(t - midnight))


def night_dir(date: dt.date) -> str:
    """The night directory name, ``yymmdd``."""
    return date.strftime("%y%m%d")


#: The years a ``yymmdd`` night name can stand for (Python's reading of two-digit years).
NIGHT_YEARS = (1969, 2068)


def night_date(text: str) -> dt.date:
    """The date of a night's evening from ``yymmdd``, ``YYYYMMDD`` or an ISO date
    ``YYYY-MM-DD``, or `ValueError`. The archive names nights ``yymmdd``, so a year it
    cannot name (outside `NIGHT_YEARS`) is refused rather than wrapped into another."""
    text = str(text).strip()
    try:
        if re.fullmatch(r"\d{6}", text):
            return dt.datetime.strptime(text, "%y%m%d").date()
        date = (
            dt.datetime.strptime(text, "%Y%m%d").date()
            if re.fullmatch(r"\d{8}", text)
            else dt.date.fromisoformat(text)
        )
    except ValueError:
        raise Invalid(
            f"{quote_field(text)} is not a night: give yymmdd (240510) or YYYY-MM-DD "
            "(2024-05-10), the date of the night's evening"
        ) from None
    if not NIGHT_YEARS[0] <= date.year <= NIGHT_YEARS[1]:
        raise Invalid(
            f"{quote_field(text)}: the archive names nights yymmdd, which "
            f"reaches only {NIGHT_YEARS[0]}–{NIGHT_YEARS[1]}"
        )
    return date


def night_key(text: str) -> str:
    """A night as the archive names it (``yymmdd``); see `night_date`."""
    return night_dir(night_date(text))


def raw_filename(date: dt.date, ccd: int, run: int) -> str:
    """``17dec20028.fits`` for 2015-12-17, CCD 2, run 28."""
    if not 1 <= run <= 9999:
        raise Invalid(f"run number {run} does not fit four digits")
    return f"{date.day:02d}{_MONTHS[date.month - 1]}{ccd}{run:04d}.fits"


def parse_raw_filename(name: str) -> tuple[int, str, int, int]:
    """(day, month abbreviation, CCD, run) of a raw file name, or `ValueError`."""
    m = _RAW.fullmatch(name)
    if m is None or m["mon"].lower() not in _MONTHS:
        raise Invalid(f"{name!r} is not an AAT raw file name (DDmmmCNNNN.fits)")
    return int(m["day"]), m["mon"].lower(), int(m["ccd"]), int(m["run"])


def other_arm(name: str) -> str:
    """The same exposure's file from the other AAOmega arm (swap the CCD digit)."""
    day, mon, ccd, run = parse_raw_filename(name)
    return f"{day:02d}{mon}{3 - ccd if ccd in (1, 2) else ccd}{run:04d}.fits"
