"""The service's example queries (DALI examples, and the TAP app's Examples menu)."""

from __future__ import annotations


def examples(tables: set[str]) -> list[tuple[str, str, str, str]]:
    """Example queries for the tables this service publishes."""
    out = [
        (
            "tables",
            "Every published table",
            "What this service holds, from TAP_SCHEMA.",
            "SELECT schema_name, table_name, description FROM TAP_SCHEMA.tables",
        ),
    ]
    if "gaia.dr3_bright" in tables:
        out += [
            (
                "cone",
                "Cone search",
                "Gaia DR3 stars within 1 degree of (83.82, -5.39), nearest first.",
                "SELECT TOP 100 source_id, ra, dec, phot_g_mean_mag, "
                "DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 83.82, -5.39)) AS dist "
                "FROM gaia.dr3_bright WHERE 1 = CONTAINS("
                "POINT('ICRS', ra, dec), CIRCLE('ICRS', 83.82, -5.39, 1)) ORDER BY dist",
            ),
            (
                "bright",
                "Brightest stars",
                "The ten brightest Gaia DR3 stars in G.",
                "SELECT TOP 10 source_id, ra, dec, phot_g_mean_mag FROM gaia.dr3_bright "
                "ORDER BY phot_g_mean_mag",
            ),
        ]
    if "gaia.dr3_bright" in tables and "hipparcos.main" in tables:
        out.append(
            (
                "xmatch",
                "Cross-match",
                "Hipparcos stars matched to Gaia DR3 within 2 arcsec near the Pleiades.",
                "SELECT h.hip, g.source_id, DISTANCE(POINT('ICRS', h.ra, h.dec), POINT('ICRS', "
                "g.ra, g.dec)) * 3600 AS sep_arcsec FROM hipparcos.main AS h JOIN "
                "gaia.dr3_bright AS g ON 1 = CONTAINS(POINT('ICRS', g.ra, g.dec), "
                "CIRCLE('ICRS', h.ra, h.dec, 2.0 / 3600)) WHERE 1 = CONTAINS(POINT('ICRS', "
                "h.ra, h.dec), CIRCLE('ICRS', 56.75, 24.12, 2))",
            )
        )
    if "openngc.galaxies" in tables:
        out.append(
            (
                "galaxies",
                "Galaxies in a box",
                "OpenNGC galaxies in a box of 10 by 10 "
                "degrees around the Virgo cluster, brightest first.",
                "SELECT name, ra, dec, bmag FROM openngc.galaxies WHERE 1 = CONTAINS("
                "POINT('ICRS', ra, dec), BOX('ICRS', 187.7, 12.4, 10, 10)) "
                "ORDER BY bmag",
            )
        )
    if "ivoa.obscore" in tables:
        out.append(
            (
                "spectra",
                "Reduced spectra near a position",
                "Every reduced spectrum within 1 degree of (35.5, -28.9), with its DataLink "
                "document (the file, its provenance, a cutout); red ones first.",
                "SELECT obs_publisher_did, target_name, s_ra, s_dec, calib_level, em_min, "
                "em_max, t_exptime, access_url FROM ivoa.obscore WHERE 1 = CONTAINS("
                "POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 35.5, -28.9, 1)) ORDER BY em_max DESC",
            )
        )
    return out
