"""The Hector BADCLASS scheme: nine flags a classifier gives each target."""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u

from ..errors import Invalid, quote_field


@dataclass(frozen=True)
class BadClass:
    """One BADCLASS flag.

    Attributes
    ----------
    value : int
        0–8, the key the classifier presses.
    label : str
        Short label shown on the card ("4 - Large galaxy").
    meaning : str
        The definition from the survey's help text.
    icon : str
        Name of the inline SVG icon the Classify app draws (no icon font, no CDN).
    """

    value: int
    label: str
    meaning: str
    icon: str


BADCLASSES: tuple[BadClass, ...] = (
    BadClass(0, "OK", "The target is Ok.", "check"),
    BadClass(
        1,
        "Bright star nearby",
        "Bright star nearby. Acceptable stars must be fainter than 16th mag (if radius < 15.5 "
        "arcsec) or 15th mag (if radius < 31.0 arcsec).",
        "star-outline",
    ),
    BadClass(2, "Star", "The object is a star.", "star"),
    BadClass(3, "Subcomponent", "A subcomponent of a galaxy.", "subcomponent"),
    BadClass(4, "Large galaxy", "A very large, low redshift galaxy.", "large-galaxy"),
    BadClass(5, "Recentre", "Galaxy needs to be recentred.", "target"),
    BadClass(6, "Poor redshift", "Poor redshift.", "ban"),
    BadClass(7, "Other problem", "Other problems.", "warning"),
    BadClass(
        8,
        "Smaller of pair",
        "A smaller component of a close pair of galaxies, where the other component is "
        "outside the hexabundle radius.",
        "pair",
    ),
)

#: Class 1 rule: (radius within which a star is a problem, faintest problem magnitude).
BRIGHT_STAR_RULE: tuple[tuple[u.Quantity, float], ...] = (
    (15.5 * u.arcsec, 16.0),
    (31.0 * u.arcsec, 15.0),
)


def badclass(value: int) -> BadClass:
    """The flag for ``value``; `ValueError` naming the valid range otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 8:
        raise Invalid(f"BADCLASS must be an integer 0–8, not {value!r}")
    return BADCLASSES[value]


def parse_badclass(text: str) -> int:
    """A class typed by a person (``"4"``, ``" 4 "``) as an int, or `ValueError`."""
    s = str(text).strip()
    if not s.isdigit():
        raise Invalid(f"BADCLASS must be an integer 0–8, not {quote_field(str(text))}")
    return badclass(int(s)).value
