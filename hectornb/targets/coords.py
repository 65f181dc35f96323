"""Right ascension and declination as people type them in target lists.

Each field is decimal degrees or sexagesimal (RA in hours, Dec in degrees) with ':' or
whitespace between the three parts. Parsing is a compiled regular expression per field and
plain float arithmetic: ~50× faster than `astropy.coordinates.SkyCoord` on string input,
agreeing with it to well below a milliarcsecond (see ``benchmarks/bench_target_import.py``).
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import Invalid, quote_field

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_SEC = r"\d{1,2}(?:\.\d*)?"
_SEXA = (
    rf"(?P<a>\d{{1,3}})\s*:\s*(?P<b>\d{{1,2}})\s*:\s*(?P<c>{_SEC})"
    rf"|(?P<a2>\d{{1,3}})\s+(?P<b2>\d{{1,2}})\s+(?P<c2>{_SEC})"
)
_FIELD = re.compile(rf"(?P<sign>[+-]?)\s*(?:(?P<dec>{_NUM})|{_SEXA})")
_LOOSE_SEXA = re.compile(r"[+-]?\s*\d+\s*\D+\s*\d+\s*\D+\s*[\d.]+")


class CoordinateError(Invalid):
    """A coordinate field that cannot be read; the message says why, for a person."""


def _split(text: str, what: str) -> tuple[float, bool, tuple[float, float, float] | None]:
    """(sign, is_sexagesimal, parts or decimal) of one field, or `CoordinateError`."""
    m = _FIELD.fullmatch(text)
    if m is None:
        low = text.lower()
        if not text:
            raise CoordinateError(f"{what} is empty")
        if any(w in low for w in ("nan", "inf")):
            raise CoordinateError(f"{what} {quote_field(text)} is not a number")
        if _LOOSE_SEXA.fullmatch(text):
            raise CoordinateError(
                f"{what} {quote_field(text)}: sexagesimal parts must be separated by ':' or "
                "spaces, the same separator throughout"
            )
        raise CoordinateError(
            f"{what} {quote_field(text)} is neither decimal degrees nor sexagesimal "
            "(e.g. 17:22:15.67 or 17 22 15.67)"
        )
    sign = -1.0 if m["sign"] == "-" else 1.0
    if m["dec"] is not None:
        return sign, False, (float(m["dec"]), 0.0, 0.0)
    a, b, c = (m["a"], m["b"], m["c"]) if m["a"] is not None else (m["a2"], m["b2"], m["c2"])
    return sign, True, (float(a), float(b), float(c))


def _check_minsec(text: str, what: str, b: float, c: float) -> None:
    if b >= 60:
        raise CoordinateError(f"{what} {quote_field(text)}: minutes {b:g} must be below 60")
    if c >= 60:
        raise CoordinateError(f"{what} {quote_field(text)}: seconds {c:g} must be below 60")


def parse_ra(text: str) -> float:
    """Right ascension in degrees from decimal degrees or sexagesimal hours.

    Parameters
    ----------
    text : str
        ``"263.8973961"``, ``"17:22:15.67"`` or ``"17 22 15.67"``.

    Returns
    -------
    float
        Right ascension in degrees, 0 <= ra < 360.
    """
    text = text.strip()
    sign, sexa, (a, b, c) = _split(text, "RA")
    if sign < 0:
        raise CoordinateError(f"RA {quote_field(text)} must not be negative")
    if sexa:
        _check_minsec(text, "RA", b, c)
        if a >= 24:
            raise CoordinateError(f"RA {quote_field(text)}: hours {a:g} must be below 24")
        return (a + b / 60.0 + c / 3600.0) * 15.0
    if not a < 360.0:
        raise CoordinateError(f"RA {quote_field(text)} must be below 360 degrees")
    return a


def parse_dec(text: str) -> float:
    """Declination in degrees from decimal or sexagesimal degrees.

    The sign applies to the whole value, so ``"-00 30 00"`` is -0.5 degrees.
    """
    text = text.strip()
    sign, sexa, (a, b, c) = _split(text, "Dec")
    if sexa:
        _check_minsec(text, "Dec", b, c)
        value = a + b / 60.0 + c / 3600.0
    else:
        value = a
    if value > 90.0:
        raise CoordinateError(f"Dec {quote_field(text)} must lie between -90 and +90 degrees")
    return sign * value


def format_ra(ra_deg: float, precision: int = 3) -> str:
    """``HH MM SS.sss`` for an RA in degrees."""
    total = round((ra_deg % 360.0) / 15.0 * 3600.0, precision)
    total %= 86400.0
    h, rem = divmod(total, 3600.0)
    m, s = divmod(rem, 60.0)
    return f"{int(h):02d} {int(m):02d} {s:0{3 + precision}.{precision}f}"


def format_dec(dec_deg: float, precision: int = 2) -> str:
    """``±DD MM SS.ss`` for a Dec in degrees."""
    sign = "-" if dec_deg < 0 else "+"
    total = round(abs(dec_deg) * 3600.0, precision)
    d, rem = divmod(total, 3600.0)
    m, s = divmod(rem, 60.0)
    return f"{sign}{int(d):02d} {int(m):02d} {s:0{3 + precision}.{precision}f}"


def angular_separation_deg(
    ra1: float, dec1: float, ra2: np.ndarray, dec2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in degrees (Vincenty formula, stable at all separations)."""
    r1, d1 = np.radians(ra1), np.radians(dec1)
    r2, d2 = np.radians(ra2), np.radians(dec2)
    dra = r2 - r1
    num = np.hypot(
        np.cos(d2) * np.sin(dra), np.cos(d1) * np.sin(d2) - np.sin(d1) * np.cos(d2) * np.cos(dra)
    )
    den = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(dra)
    return np.degrees(np.arctan2(num, den))
