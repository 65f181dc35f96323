"""DataLink 1.1 documents: what can be had for a spectrum, and a SODA cutout of it.

`links_document` writes the ``{links}`` response: one table of links per requested ID (an
ID that is unknown, or that the caller may not see, gets one row with its error), and a
SODA service descriptor per spectrum for a cutout in wavelength (``BAND``, metres).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

CONTENT_TYPE = "application/x-votable+xml;content=datalink"
STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
SODA_ID = "ivo://ivoa.net/std/SODA#sync-1.0"

#: (name, datatype, ucd, unit) of the {links} table, as DataLink 1.1 lists them.
FIELDS = (
    ("ID", "char", "meta.id;meta.main", None),
    ("access_url", "char", "meta.ref.url", None),
    ("service_def", "char", "meta.ref", None),
    ("error_message", "char", "meta.code.error", None),
    ("semantics", "char", "meta.code", None),
    ("description", "char", "meta.note", None),
    ("content_type", "char", "meta.code.mime", None),
    ("content_length", "long", "phys.size;meta.file", "byte"),
    ("content_qualifier", "char", "meta.code.class", None),
    ("local_semantics", "char", "meta.code", None),
    ("link_auth", "char", "meta.code", None),
    ("link_authorized", "boolean", "meta.code", None),
)


@dataclass(frozen=True)
class Link:
    """One row of a {links} table."""

    id: str
    access_url: str = ""
    service_def: str = ""
    error_message: str = ""
    semantics: str = ""
    description: str = ""
    content_type: str = ""
    content_length: int | None = None
    content_qualifier: str = ""
    local_semantics: str = ""
    link_auth: str = "optional"
    link_authorized: bool = True

    def cells(self) -> list[str]:
        values = [
            self.id,
            self.access_url,
            self.service_def,
            self.error_message,
            self.semantics,
            self.description,
            self.content_type,
            "" if self.content_length is None else str(int(self.content_length)),
            self.content_qualifier,
            self.local_semantics,
            self.link_auth,
            "T" if self.link_authorized else "F",
        ]
        return [f"<TD>{escape(xml_text(v))}</TD>" for v in values]


@dataclass(frozen=True)
class Cutout:
    """A SODA descriptor for one spectrum: its ID and wavelength range (metres)."""

    resource_id: str
    did: str
    em_min: float
    em_max: float


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold left out."""
    return "".join(
        ch for ch in text if ch in "\t\n\r" or ("\x20" <= ch <= "\ud7ff") or ch >= "\ue000"
    )


def url(base: str, path: str, **params: str) -> str:
    """``base`` (ending in ``/``) + ``path`` with ``params`` percent-encoded."""
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    return f"{base}{path}" + (f"?{query}" if query else "")


def links_document(links: list[Link], cutouts: list[Cutout], soda_url: str) -> bytes:
    """The {links} VOTable of ``links``, with a SODA descriptor per cutout."""
    fields = "".join(
        f"<FIELD name={quoteattr(n)} datatype={quoteattr(t)} ucd={quoteattr(u)}"
        + (f" unit={quoteattr(unit)}" if unit else "")
        + (' arraysize="*"' if t == "char" else "")
        + "/>"
        for n, t, u, unit in FIELDS
    )
    rows = "".join(f"<TR>{''.join(link.cells())}</TR>" for link in links)
    services = "".join(_soda_resource(c, soda_url) for c in cutouts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE type="results">'
        f'<INFO name="standardID" value="{STANDARD_ID}"/>'
        f"<TABLE>{fields}<DATA><TABLEDATA>{rows}</TABLEDATA></DATA></TABLE></RESOURCE>"
        f"{services}</VOTABLE>"
    ).encode()


def _soda_resource(c: Cutout, soda_url: str) -> str:
    return (
        f'<RESOURCE type="meta" utype="adhoc:service" ID={quoteattr(c.resource_id)}>'
        f'<PARAM name="standardID" datatype="char" arraysize="*" value="{SODA_ID}"/>'
        f'<PARAM name="accessURL" datatype="char" arraysize="*" value={quoteattr(soda_url)}/>'
        '<GROUP name="inputParams">'
        '<PARAM name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.dataset" '
        f"value={quoteattr(c.did)}/>"
        '<PARAM name="BAND" datatype="double" arraysize="2" xtype="interval" unit="m" '
        'ucd="em.wl;stat.interval" value="">'
        f"<DESCRIPTION>The wavelengths to keep (metres, in the spectrum's medium)</DESCRIPTION>"
        f'<VALUES><MIN value="{c.em_min!r}"/><MAX value="{c.em_max!r}"/></VALUES></PARAM>'
        "</GROUP></RESOURCE>"
    )
