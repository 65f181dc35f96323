"""Spectral lines to mark on a spectrum at a redshift: the strong optical lines of galaxies.

Rest wavelengths in air (Angstrom), the convention of 2dfdr's products; converted to vacuum
(Morton 2000's formula, as specutils has it) for products whose header says ``VACUUM = T``.
"""

from __future__ import annotations

from astropy import units as u

#: (name, rest wavelength in air / Angstrom, kind: "emission" or "absorption")
LINES: tuple[tuple[str, float, str], ...] = (
    ("[OII]", 3726.03, "emission"),
    ("[OII]", 3728.82, "emission"),
    ("[NeIII]", 3868.76, "emission"),
    ("Ca K", 3933.66, "absorption"),
    ("Ca H", 3968.47, "absorption"),
    ("Hδ", 4101.74, "emission"),
    ("G band", 4304.40, "absorption"),
    ("Hγ", 4340.47, "emission"),
    ("Hβ", 4861.33, "emission"),
    ("[OIII]", 4958.91, "emission"),
    ("[OIII]", 5006.84, "emission"),
    ("Mg b", 5175.40, "absorption"),
    ("Na D", 5892.94, "absorption"),
    ("[OI]", 6300.30, "emission"),
    ("[NII]", 6548.05, "emission"),
    ("Hα", 6562.80, "emission"),
    ("[NII]", 6583.45, "emission"),
    ("[SII]", 6716.44, "emission"),
    ("[SII]", 6730.82, "emission"),
    ("Ca II", 8498.02, "absorption"),
    ("Ca II", 8542.09, "absorption"),
    ("Ca II", 8662.14, "absorption"),
)


def air_to_vacuum(air: u.Quantity) -> u.Quantity:
    """Vacuum wavelengths of air wavelengths: air times the refractive index of standard
    air at the air wavelength (Morton 2000, ApJS 130, 403, eq. 8), as specutils' default
    ``air_to_vac`` does; good to about 0.003 Angstrom in the optical."""
    s2 = (1e4 / air.to_value(u.AA)) ** 2  # (inverse microns) squared
    index = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2)
    return air * index


def vacuum_to_air(vacuum: u.Quantity) -> u.Quantity:
    """Air wavelengths of vacuum wavelengths: vacuum divided by the refractive index of
    standard air at the vacuum wavenumber (Morton 2000, ApJS 130, 403, eq. 8, as written);
    the inverse of `air_to_vacuum` to about 0.003 Angstrom."""
    s2 = (1e4 / vacuum.to_value(u.AA)) ** 2
    index = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2)
    return vacuum / index


def rest_wavelengths(medium: str = "air") -> list[dict]:
    """The lines with their rest wavelength (Angstrom) in ``medium`` ("air" or "vacuum")."""
    if medium not in ("air", "vacuum"):
        raise ValueError(f"medium must be 'air' or 'vacuum', not {medium!r}")
    air = [w for _, w, _ in LINES] * u.AA
    waves = air_to_vacuum(air) if medium == "vacuum" else air
    return [
        {"name": name, "rest": round(float(w), 3), "kind": kind}
        for (name, _, kind), w in zip(LINES, waves.to_value(u.AA), strict=True)
    ]
