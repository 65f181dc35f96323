"""Hector tile files for the tests, built to the documented format (see
``docs/reference``: 11 KEY,value lines, the ``#probe,ID,…`` header row, one row per probe)."""

from __future__ import annotations

from hectornb.obslog.schema import BUNDLES

COLUMNS = (
    "probe,ID,x,y,rads,angs,azAngs,angs_azAng,RA,DEC,g_mag,r_mag,Mstar,Re,z,"
    "GAL_MU_E_R,pmRA,pmDEC,priority,type,MagnetX,MagnetY,SkyPosition,"
    "fibre_type(P/S/G),Magnet,Label,order,Pickup_option,Index,Hexabundle,"
    "probe_orientation,offset_P,offset_Q"
)


def tile_text(base: int, label: str, bad_line: str | None = None) -> str:
    """A tile file as the Hector tiling code writes them: 11 KEY,value lines, the header
    row, 21 hexabundle probes (H and U standard stars), 6 guide probes, 5 sky fibres."""
    head = [
        ("PROXIMITY", "220"),
        ("TILING_DATE", "2025-09-01"),
        ("OBS_TEMP", "12.0"),
        ("ROBOT_TEMP", "18.0"),
        ("MDLPARS", "default"),
        ("EQUINOX", "J2000"),
        ("CENTRE", "150.1200 2.2100"),
        ("UTTIME", "12:30:00"),
        ("UTDATE", "2025 10 01"),
        ("PLATEID", "7"),
        ("LABEL", label),
    ]
    lines = [f"{k},{v}" for k, v in head] + ["#" + COLUMNS]
    n = len(COLUMNS.split(","))

    def row(probe, ident, ra, dec, bundle, kind, z="0.045"):
        values = {
            "probe": str(probe),
            "ID": ident,
            "RA": f"{ra:.5f}",
            "DEC": f"{dec:.5f}",
            "g_mag": "17.9",
            "r_mag": "17.1",
            "Mstar": "10.2",
            "Re": "3.4",
            "z": z,
            "fibre_type(P/S/G)": kind,
            "Hexabundle": bundle,
            "Label": bundle,
        }
        return ",".join(values.get(c, "0") for c in COLUMNS.split(","))

    for k, letter in enumerate(BUNDLES):
        if letter in ("H", "U"):
            lines.append(row(k + 1, f"S{base + k}", 150.0 + k / 50, 2.0 + k / 80, letter, "P"))
        else:
            lines.append(row(k + 1, f"C{base + k}", 150.0 + k / 50, 2.0 + k / 80, letter, "P"))
    for g in range(1, 7):
        lines.append(row(21 + g, f"G{base + g}", 149.5 + g / 10, 1.6, f"GS{g}", "G"))
    for s in range(1, 6):
        lines.append(row(27 + s, f"Sky-A{s}-1", 150.9, 1.5 + s / 10, f"A{s}", "S"))
    if bad_line is not None:
        lines.append(bad_line)
    assert all(len(x.split(",")) == n for x in lines[12:] if x != bad_line)
    return "\n".join(lines) + "\n"
