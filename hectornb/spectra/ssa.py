"""SSA 1.1 (Simple Spectral Access): the query's parameters and its answer.

`parse_query` reads ``POS``, ``SIZE``, ``BAND``, ``TIME``, ``FORMAT`` and ``MAXREC`` as SSA
1.1 writes them (positions and sizes in degrees, wavelengths in metres, times ISO 8601) and
refuses anything else with a message; `results_document` writes the VOTable with SSA's
utypes, each row's ``Access.Reference`` the spectrum's FITS file, and a DataLink service
descriptor (clients such as TOPCAT and pyvo follow it to the spectrum's other files).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from astropy.time import Time

from ..errors import Invalid
from .datalink import STANDARD_ID as DATALINK_ID
from .datalink import xml_text

STANDARD_ID = "ivo://ivoa.net/std/SSA"
#: SIZE when a query gives none (degrees): a few fibre separations.
DEFAULT_SIZE = 1.0 / 60
#: What FORMAT may ask for that returns our spectra: they are FITS tables.
FITS_FORMATS = ("all", "compliant", "native", "fits", "application/fits")


@dataclass(frozen=True)
class SsaQuery:
    """A queryData request, in degrees, metres and MJD; ``metadata``: FORMAT=METADATA."""

    pos: tuple[float, float] | None
    size: float
    band: tuple[float | None, float | None] | None
    time: tuple[float | None, float | None] | None
    maxrec: int
    metadata: bool = False
    no_match: bool = False  # a FORMAT this service has none of


def _float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Invalid(f"{name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise Invalid(f"{name}: {text!r} is not a finite number")
    return value


def _range(name: str, text: str, read) -> tuple[float | None, float | None]:
    if "," in text:
        raise Invalid(f"{name}: one range only (lo/hi), not a list")
    lo, sep, hi = text.partition("/")
    if not sep:  # one value: the range holding it
        value = read(lo)
        return value, value
    low = read(lo) if lo.strip() else None
    high = read(hi) if hi.strip() else None
    if low is not None and high is not None and high < low:
        raise Invalid(f"{name}: {text!r} ends before it starts")
    return low, high


def _mjd(text: str) -> float:
    try:
        return float(Time(text.strip(), scale="utc").mjd)
    except ValueError:
        raise Invalid(f"TIME: {text!r} is not an ISO 8601 time") from None


def parse_query(params: dict[str, str], default_maxrec: int, hard_maxrec: int) -> SsaQuery:
    """The query of SSA parameters (names in any case), or `Invalid` saying which is wrong."""
    p = {k.upper(): v for k, v in params.items()}
    request = p.get("REQUEST", "queryData")
    if request.lower() != "querydata":
        raise Invalid(f"REQUEST={request!r}: this service answers REQUEST=queryData")
    pos = None
    if p.get("POS"):
        coords, _, frame = p["POS"].partition(";")
        if frame and frame.strip().upper() not in ("ICRS", "FK5", "J2000"):
            raise Invalid(f"POS: frame {frame!r} is not supported (ICRS)")
        parts = coords.split(",")
        if len(parts) != 2:
            raise Invalid(f"POS: {p['POS']!r} is not ra,dec in degrees")
        ra, dec = (_float("POS", v) for v in parts)
        if not -90 <= dec <= 90:
            raise Invalid(f"POS: declination {dec} is outside -90..90")
        pos = (ra % 360.0, dec)
    size = _float("SIZE", p["SIZE"]) if p.get("SIZE") else DEFAULT_SIZE
    if not 0 < size <= 180:
        raise Invalid(f"SIZE: {size} is not a diameter in degrees (0 < SIZE <= 180)")
    band = _range("BAND", p["BAND"], lambda v: _float("BAND", v)) if p.get("BAND") else None
    time = _range("TIME", p["TIME"], _mjd) if p.get("TIME") else None
    maxrec = default_maxrec
    if p.get("MAXREC"):
        try:
            maxrec = int(p["MAXREC"])
        except ValueError:
            raise Invalid(f"MAXREC: {p['MAXREC']!r} is not a whole number") from None
        if maxrec < 0:
            raise Invalid("MAXREC cannot be negative")
    fmt = p.get("FORMAT", "all").strip().lower()
    return SsaQuery(
        pos,
        size,
        band,
        time,
        min(maxrec, hard_maxrec),
        metadata=fmt == "metadata",
        no_match=fmt not in (*FITS_FORMATS, "metadata"),
    )


#: (name, datatype, arraysize, unit, ucd, utype, description) of the answer's columns.
COLUMNS = (
    (
        "title",
        "char",
        "*",
        None,
        "meta.title;meta.dataset",
        "ssa:DataID.Title",
        "Target, product and fibre",
    ),
    ("target_name", "char", "*", None, "meta.id;src", "ssa:Target.Name", "The fibre's target"),
    (
        "pubdid",
        "char",
        "*",
        None,
        "meta.ref.ivoid",
        "ssa:Curation.PublisherDID",
        "The spectrum's IVOA identifier",
    ),
    (
        "accref",
        "char",
        "*",
        None,
        "meta.ref.url;meta.dataset",
        "ssa:Access.Reference",
        "The spectrum as a FITS table",
    ),
    ("mime", "char", "*", None, "meta.code.mime", "ssa:Access.Format", "Its format"),
    (
        "accsize",
        "long",
        None,
        "byte",
        "phys.size;meta.file",
        "ssa:Access.Size",
        "Its estimated size",
    ),
    ("collection", "char", "*", None, "meta.id", "ssa:DataID.Collection", "Collection"),
    ("instrument", "char", "*", None, "meta.id;instr", "ssa:DataID.Instrument", "Instrument"),
    ("date", "char", "*", None, "time.epoch", "ssa:DataID.Date", "Start of the exposure (UTC)"),
    (
        "pos",
        "double",
        "2",
        "deg",
        "pos.eq;meta.main",
        "ssa:Char.SpatialAxis.Coverage.Location.Value",
        "Fibre centre (ICRS ra, dec)",
    ),
    (
        "aperture",
        "double",
        None,
        "deg",
        "instr.fov",
        "ssa:Char.SpatialAxis.Coverage.Bounds.Extent",
        "Fibre diameter",
    ),
    (
        "spec_start",
        "double",
        None,
        "m",
        "em.wl;stat.min",
        "ssa:Char.SpectralAxis.Coverage.Bounds.Start",
        "Shortest wavelength",
    ),
    (
        "spec_stop",
        "double",
        None,
        "m",
        "em.wl;stat.max",
        "ssa:Char.SpectralAxis.Coverage.Bounds.Stop",
        "Longest wavelength",
    ),
    (
        "spec_mid",
        "double",
        None,
        "m",
        "em.wl;instr.bandpass",
        "ssa:Char.SpectralAxis.Coverage.Location.Value",
        "Middle wavelength",
    ),
    (
        "spec_width",
        "double",
        None,
        "m",
        "em.wl;instr.bandwidth",
        "ssa:Char.SpectralAxis.Coverage.Bounds.Extent",
        "Wavelength range",
    ),
    (
        "respower",
        "double",
        None,
        None,
        "spect.resolution",
        "ssa:Char.SpectralAxis.ResPower",
        "Resolving power",
    ),
    (
        "time_mid",
        "double",
        None,
        "d",
        "time.epoch",
        "ssa:Char.TimeAxis.Coverage.Location.Value",
        "Middle of the exposure (MJD)",
    ),
    (
        "exposure",
        "double",
        None,
        "s",
        "time.duration;obs.exposure",
        "ssa:Char.TimeAxis.Coverage.Bounds.Extent",
        "Exposure time",
    ),
    ("length", "long", None, None, "meta.number", "ssa:Dataset.Length", "Spectral pixels"),
    ("dstype", "char", "*", None, "meta.code.class", "ssa:Dataset.Type", "spectrum"),
    ("datamodel", "char", "*", None, "meta.code", "ssa:Dataset.DataModel", "Spectrum-1.0"),
    (
        "calib_level",
        "int",
        None,
        None,
        "meta.code;obs.calib",
        "ssa:Dataset.CalibLevel",
        "2 a reduced frame, 3 combined or spliced",
    ),
    (
        "flux_calib",
        "char",
        "*",
        None,
        "meta.code.qual",
        "ssa:Char.FluxAxis.Calibration",
        "UNCALIBRATED: counts",
    ),
    ("spec_ucd", "char", "*", None, "meta.ucd", "ssa:Char.SpectralAxis.Ucd", "em.wl"),
    ("flux_ucd", "char", "*", None, "meta.ucd", "ssa:Char.FluxAxis.Ucd", "phot.count"),
    (
        "release",
        "char",
        "*",
        None,
        "time.release",
        "ssa:Curation.Date",
        "When the programme's data become public",
    ),
)


def _dates(rows: list[dict]) -> list[str]:
    """Each row's start as ISO UTC, converted in one call (one per row costs 0.3 ms)."""
    known = [i for i, r in enumerate(rows) if r.get("t_min") is not None]
    out = [""] * len(rows)
    if known:
        isot = Time([rows[i]["t_min"] for i in known], format="mjd", scale="utc").isot
        for i, text in zip(known, isot, strict=True):
            out[i] = str(text)
    return out


def _cells(row: dict, accref: str, date: str) -> list[str]:
    exposure = row.get("t_exptime")
    start = row.get("t_min")
    t_mid = None if start is None else (start + (row["t_max"] or start)) / 2
    release = row.get("obs_release_date")
    return [
        f"{row['target_name']} ({row['obs_id']})",
        row["target_name"],
        row["obs_publisher_did"],
        accref,
        "application/fits",
        int(row["access_estsize"]) * 1000,
        row["obs_collection"],
        row["instrument_name"],
        date,
        f"{row['s_ra']!r} {row['s_dec']!r}",
        row["s_fov"],
        row["em_min"],
        row["em_max"],
        (row["em_min"] + row["em_max"]) / 2,
        row["em_max"] - row["em_min"],
        row["em_res_power"],
        t_mid,
        exposure,
        row["em_xel"],
        "spectrum",
        "Spectrum-1.0",
        row["calib_level"],
        "UNCALIBRATED",
        "em.wl",
        "phot.count",
        "" if release is None else release.isoformat(),
    ]


def _td(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "<TD/>"
    if isinstance(value, float):
        return f"<TD>{value!r}</TD>"
    return f"<TD>{escape(xml_text(str(value)))}</TD>"


def results_document(
    rows: list[dict], accrefs: list[str], overflow: bool, datalink_url: str
) -> bytes:
    """The queryData answer: ``rows`` (ObsCore records) with their ``accrefs``."""
    fields = "".join(
        f"<FIELD name={quoteattr(n)} ID={quoteattr(n)} datatype={quoteattr(t)}"
        + (f" arraysize={quoteattr(a)}" if a else "")
        + (f" unit={quoteattr(unit)}" if unit else "")
        + f" ucd={quoteattr(ucd)} utype={quoteattr(utype)}>"
        f"<DESCRIPTION>{escape(text)}</DESCRIPTION></FIELD>"
        for n, t, a, unit, ucd, utype, text in COLUMNS
    )
    body = "".join(
        "<TR>" + "".join(_td(v) for v in _cells(r, a, d)) + "</TR>"
        for r, a, d in zip(rows, accrefs, _dates(rows), strict=True)
    )
    status = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>' if overflow else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/>'
        '<INFO name="SERVICE_PROTOCOL" value="1.1">SSAP</INFO>'
        f"<TABLE>{fields}<DATA><TABLEDATA>{body}</TABLEDATA></DATA></TABLE>{status}"
        "</RESOURCE>"
        '<RESOURCE type="meta" utype="adhoc:service" name="datalink">'
        f'<PARAM name="standardID" datatype="char" arraysize="*" value="{DATALINK_ID}"/>'
        f'<PARAM name="accessURL" datatype="char" arraysize="*" value={quoteattr(datalink_url)}/>'
        '<GROUP name="inputParams"><PARAM name="ID" datatype="char" arraysize="*" value="" '
        'ref="pubdid" ucd="meta.id;meta.main"/></GROUP></RESOURCE>'
        "</VOTABLE>"
    ).encode()


def error_document(message: str) -> bytes:
    """SSA's error answer: QUERY_STATUS ERROR with the message."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        f'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">{escape(message)}'
        "</INFO></RESOURCE></VOTABLE>"
    ).encode()


def capabilities(base: str, default_maxrec: int, hard_maxrec: int) -> bytes:
    """The VOSI capabilities of the SSA service at ``base`` (ending in ``/``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:ssa="http://www.ivoa.net/xml/SSA/v1.1">'
        f'<capability standardID="{STANDARD_ID}" xsi:type="ssa:SimpleSpectralAccess">'
        '<interface xsi:type="vs:ParamHTTP" role="std" version="1.1">'
        f'<accessURL use="base">{escape(base)}</accessURL></interface>'
        "<dataSource>pointed</dataSource><creationType>archival</creationType>"
        "<complianceLevel>query</complianceLevel>"
        f"<maxSearchRadius>90</maxSearchRadius><maxRecords>{hard_maxrec}</maxRecords>"
        f"<defaultMaxRecords>{default_maxrec}</defaultMaxRecords>"
        "<maxAperture>0.001</maxAperture>"
        "<testQuery><pos><long>0</long><lat>0</lat></pos><size>1</size></testQuery>"
        "</capability>"
        '<capability standardID="ivo://ivoa.net/std/VOSI#capabilities">'
        '<interface xsi:type="vs:ParamHTTP">'
        f'<accessURL use="full">{escape(base)}capabilities</accessURL></interface></capability>'
        '<capability standardID="ivo://ivoa.net/std/VOSI#availability">'
        '<interface xsi:type="vs:ParamHTTP">'
        f'<accessURL use="full">{escape(base)}availability</accessURL></interface></capability>'
        "</vosi:capabilities>"
    ).encode()
