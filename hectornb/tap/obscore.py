"""``ivoa.obscore``: the reduced spectra in the IVOA ObsCore 1.1 data model (ObsTAP).

The rows come from the ``hectornb_pub.obscore`` view over the platform's spectrum table
(`hectornb.spectra.index`); this module describes its columns as the standard names them
(utype, UCD, unit) and publishes the table for everyone: the view itself shows each caller
only the rows they may see.
"""

from __future__ import annotations

import psycopg

from .publish import view_columns, write_table
from .tableset import TapColumn, TapTable

TABLE = "ivoa.obscore"
VIEW = "obscore"
#: How TAP capabilities declare the data model (ObsCore 1.1, section 4).
DATA_MODEL = ("ivo://ivoa.net/std/ObsCore#core-1.1", "ObsCore-1.1")
_P = "obscore:"

#: column -> (utype, UCD, unit, description), in the standard's order.
COLUMNS: dict[str, tuple[str, str, str | None, str]] = {
    "dataproduct_type": (
        "ObsDataset.dataProductType",
        "meta.code.class",
        None,
        "Data product type: spectrum",
    ),
    "calib_level": (
        "ObsDataset.calibLevel",
        "meta.code;obs.calib",
        None,
        "Calibration level: 2 a reduced frame, 3 a combined or spliced one",
    ),
    "obs_collection": ("DataID.Collection", "meta.id", None, "Collection: 2dF-AAOmega or Hector"),
    "obs_id": ("DataID.observationID", "meta.id", None, "Product and fibre (from 1)"),
    "obs_publisher_did": (
        "Curation.PublisherDID",
        "meta.ref.ivoid",
        None,
        "The spectrum's IVOA identifier (DataLink's ID)",
    ),
    "access_url": (
        "Access.Reference",
        "meta.ref.url",
        None,
        "The spectrum's DataLink document: the file, its progenitors, "
        "calibrations and a wavelength cutout",
    ),
    "access_format": ("Access.Format", "meta.code.mime", None, "Format of access_url"),
    "access_estsize": (
        "Access.Size",
        "phys.size;meta.file",
        "kbyte",
        "Size of the spectrum's file",
    ),
    "target_name": ("Target.Name", "meta.id;src", None, "The fibre's target"),
    "s_ra": (
        "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1",
        "pos.eq.ra",
        "deg",
        "Fibre centre, right ascension (ICRS)",
    ),
    "s_dec": (
        "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2",
        "pos.eq.dec",
        "deg",
        "Fibre centre, declination (ICRS)",
    ),
    "s_fov": (
        "Char.SpatialAxis.Coverage.Bounds.Extent.diameter",
        "phys.angSize;instr.fov",
        "deg",
        "The fibre's diameter on the sky",
    ),
    "s_region": (
        "Char.SpatialAxis.Coverage.Support.Area",
        "pos.outline;obs.field",
        None,
        "The fibre's footprint: a circle (STC-S, degrees)",
    ),
    "s_resolution": (
        "Char.SpatialAxis.Resolution.Refval.value",
        "pos.angResolution",
        "arcsec",
        "Spatial resolution: the fibre's diameter",
    ),
    "t_min": (
        "Char.TimeAxis.Coverage.Bounds.Limits.StartTime",
        "time.start;obs.exposure",
        "d",
        "Start of the exposure (MJD, UTC)",
    ),
    "t_max": (
        "Char.TimeAxis.Coverage.Bounds.Limits.StopTime",
        "time.end;obs.exposure",
        "d",
        "End of the exposure (MJD, UTC)",
    ),
    "t_exptime": (
        "Char.TimeAxis.Coverage.Support.Extent",
        "time.duration;obs.exposure",
        "s",
        "Exposure time",
    ),
    "t_resolution": (
        "Char.TimeAxis.Resolution.Refval.value",
        "time.resolution",
        "s",
        "Time resolution (none: one exposure)",
    ),
    "em_min": (
        "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
        "em.wl;stat.min",
        "m",
        "Shortest wavelength (in the product's medium, air unless it says vacuum)",
    ),
    "em_max": (
        "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
        "em.wl;stat.max",
        "m",
        "Longest wavelength",
    ),
    "em_res_power": (
        "Char.SpectralAxis.Resolution.ResolPower.refVal",
        "spect.resolution",
        None,
        "Resolving power λ/Δλ at the middle of the spectrum",
    ),
    "o_ucd": (
        "Char.ObservableAxis.ucd",
        "meta.ucd",
        None,
        "What the flux measures: counts (not flux-calibrated)",
    ),
    "pol_states": (
        "Char.PolarizationAxis.stateList",
        "meta.code;phys.polarization",
        None,
        "Polarization states (none)",
    ),
    "facility_name": ("Provenance.ObsConfig.Facility.name", "meta.id;instr.tel", None, "Telescope"),
    "instrument_name": (
        "Provenance.ObsConfig.Instrument.name",
        "meta.id;instr",
        None,
        "Spectrograph and fibre feed",
    ),
    "s_xel1": ("Char.SpatialAxis.numBins1", "meta.number", None, "Spatial pixels (1: a fibre)"),
    "s_xel2": ("Char.SpatialAxis.numBins2", "meta.number", None, "Spatial pixels (1: a fibre)"),
    "t_xel": ("Char.TimeAxis.numBins", "meta.number", None, "Time bins (1)"),
    "em_xel": ("Char.SpectralAxis.numBins", "meta.number", None, "Spectral pixels"),
    "pol_xel": (
        "Char.PolarizationAxis.numBins",
        "meta.number",
        None,
        "Polarization samples (0: none)",
    ),
    "obs_release_date": (
        "Curation.releaseDate",
        "time.release",
        None,
        "When the programme's data become public (empty: not yet known)",
    ),
    "em_ucd": ("Char.SpectralAxis.ucd", "meta.ucd", None, "The spectral axis: wavelength"),
    "em_unit": ("Char.SpectralAxis.unit", "meta.unit", None, "Unit of the spectral axis"),
    "proposal_id": (
        "Provenance.Proposal.identifier",
        "meta.id;obs.proposal",
        None,
        "The AAT programme (AAOPRGID)",
    ),
    "obs_creation_date": (
        "DataID.Date",
        "time;meta.dataset",
        None,
        "When the spectrum was reduced (UTC)",
    ),
}

#: s_region is an ADQL region written in STC-S, as ObsCore's validators expect.
_XTYPES = {"s_region": ("adql:REGION", "*")}


def publish_obscore(conn: psycopg.Connection, pg_schema: str) -> None:
    """Describe ``ivoa.obscore`` in TAP_SCHEMA, readable by everyone."""
    columns = []
    for name, datatype, arraysize, xtype in view_columns(conn, pg_schema, VIEW):
        xtype, arraysize = _XTYPES.get(name, (xtype, arraysize))
        utype, ucd, unit, description = COLUMNS[name]
        columns.append(
            TapColumn(
                name,
                datatype,
                arraysize,
                xtype,
                unit,
                ucd,
                _P + utype,
                description,
                indexed=name in ("s_ra", "s_dec", "obs_publisher_did"),
                principal=True,
                std=True,
            )
        )
    table = TapTable(
        TABLE,
        "ivoa",
        pg_schema,
        VIEW,
        columns,
        "Every reduced spectrum: one per program fibre of each reduced, combined or spliced "
        "product (ObsCore 1.1). Proprietary spectra are shown to their programme's members "
        "and to whoever reduced them.",
        utype="ivo://ivoa.net/std/obscore#table-1.1",
    )
    write_table(
        conn,
        table,
        public=True,
        owner=None,
        by="hectornb",
        schema_description="The IVOA's standard tables: ObsCore.",
    )
