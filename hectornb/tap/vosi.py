"""The service's self-description: VOSI capabilities (with TAPRegExt), availability and
tables, and the DALI examples document."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from ..config import Settings
from .adql import LANGUAGE_FEATURES
from .obscore import DATA_MODEL as OBSCORE_MODEL
from .result import OUTPUT_FORMATS
from .tableset import TapTable
from .uws import LIFETIME

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_TR = "ivo://ivoa.net/std/TAPRegExt"

_OUTPUT_IDS = {
    "votable": f"{_TR}#output-votable-td",
    "votable/b2": f"{_TR}#output-votable-binary2",
}


def _x(text) -> str:
    return escape(str(text))


def _attr(name: str, value: str | None) -> str:
    return f" {name}={quoteattr(value)}" if value else ""


def capabilities(base: str, settings: Settings) -> bytes:
    """The VOSI capabilities document of the service at ``base`` (no trailing slash)."""
    features = "".join(
        f"<languageFeatures type={quoteattr(t)}>"
        + "".join(f"<feature><form>{_x(f)}</form></feature>" for f in forms)
        + "</languageFeatures>"
        for t, forms in LANGUAGE_FEATURES.items()
    )
    outputs = "".join(
        f"<outputFormat{_attr('ivo-id', _OUTPUT_IDS.get(alias))}>"
        f"<mime>{_x(mime)}</mime><alias>{_x(alias)}</alias></outputFormat>"
        for mime, alias in OUTPUT_FORMATS
    )
    lifetime = int(LIFETIME.total_seconds())

    def vosi(standard: str, path: str) -> str:
        return (
            f'<capability standardID="{standard}"><interface xsi:type="vs:ParamHTTP">'
            f'<accessURL use="full">{_x(base)}/{path}</accessURL></interface></capability>'
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        f'xmlns:xsi="{_XSI}" xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0">'
        '<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">'
        '<interface xsi:type="vs:ParamHTTP" role="std" version="1.1">'
        f'<accessURL use="base">{_x(base)}</accessURL></interface>'
        f'<dataModel ivo-id="{OBSCORE_MODEL[0]}">{OBSCORE_MODEL[1]}</dataModel>'
        "<language><name>ADQL</name>"
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.1">2.1</version>'
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>'
        "<description>ADQL 2.1, translated to PostgreSQL by hectornb</description>"
        f"{features}</language>{outputs}"
        f'<uploadMethod ivo-id="{_TR}#upload-inline"/>'
        f'<uploadMethod ivo-id="{_TR}#upload-http"/>'
        f'<uploadMethod ivo-id="{_TR}#upload-https"/>'
        f"<retentionPeriod><default>{lifetime}</default><hard>{30 * 86400}</hard>"
        "</retentionPeriod>"
        f"<executionDuration><default>{settings.tap_async_timeout}</default>"
        f"<hard>{settings.tap_async_timeout}</hard></executionDuration>"
        f'<outputLimit><default unit="row">{settings.tap_maxrec}</default>'
        f'<hard unit="row">{settings.tap_hard_maxrec}</hard></outputLimit>'
        f'<uploadLimit><default unit="byte">{settings.tap_upload_limit}</default>'
        f'<hard unit="byte">{settings.tap_upload_limit}</hard></uploadLimit>'
        "</capability>"
        + vosi("ivo://ivoa.net/std/VOSI#capabilities", "capabilities")
        + vosi("ivo://ivoa.net/std/VOSI#availability", "availability")
        + vosi("ivo://ivoa.net/std/VOSI#tables", "tables")
        + vosi("ivo://ivoa.net/std/DALI#examples", "examples")
        + "</vosi:capabilities>\n"
    ).encode("utf-8")


def availability(available: bool, note: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
        f"<vosi:available>{'true' if available else 'false'}</vosi:available>"
        f"<vosi:note>{_x(note)}</vosi:note></vosi:availability>\n"
    ).encode()


def _column(c) -> str:
    out = [f"<column><name>{_x(c.name)}</name>"]
    for tag, value in (
        ("description", c.description),
        ("unit", c.unit),
        ("ucd", c.ucd),
        ("utype", c.utype),
    ):
        if value:
            out.append(f"<{tag}>{_x(value)}</{tag}>")
    attrs = f" arraysize={quoteattr(c.arraysize)}" if c.arraysize else ""
    if c.xtype:
        attrs += f" extendedType={quoteattr(c.xtype)}"
    out.append(f'<dataType xsi:type="vs:VOTableType"{attrs}>{_x(c.datatype)}</dataType>')
    for flag, on in (("indexed", c.indexed), ("primary", c.principal), ("std", c.std)):
        if on:
            out.append(f"<flag>{flag}</flag>")
    out.append("</column>")
    return "".join(out)


def tableset(
    tables: list[TapTable], schema_descriptions: dict[str, str], keys: list[dict]
) -> bytes:
    """The VOSI tables document: schemas, their tables, columns and foreign keys."""
    by_schema: dict[str, list[TapTable]] = {}
    for t in tables:
        by_schema.setdefault(t.schema, []).append(t)
    parts = []
    for schema, members in by_schema.items():
        parts.append(f"<schema><name>{_x(schema)}</name>")
        if schema_descriptions.get(schema):
            parts.append(f"<description>{_x(schema_descriptions[schema])}</description>")
        for t in members:
            parts.append(f'<table type="{_x(t.table_type)}"><name>{_x(t.name)}</name>')
            if t.description:
                parts.append(f"<description>{_x(t.description)}</description>")
            parts.extend(_column(c) for c in t.columns)
            for k in keys:
                if k["from_table"] == t.name:
                    target = _x(k["target_table"])
                    parts.append(f"<foreignKey><targetTable>{target}</targetTable>")
                    parts.extend(
                        f"<fkColumn><fromColumn>{_x(src)}</fromColumn>"
                        f"<targetColumn>{_x(dst)}</targetColumn></fkColumn>"
                        for src, dst in k["columns"]
                    )
                    if k.get("description"):
                        parts.append(f"<description>{_x(k['description'])}</description>")
                    parts.append("</foreignKey>")
            parts.append("</table>")
        parts.append("</schema>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
        f'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" xmlns:xsi="{_XSI}">'
        + "".join(parts)
        + "</vosi:tableset>\n"
    ).encode("utf-8")


def examples_document(examples: list[tuple[str, str, str, str]]) -> bytes:
    """DALI examples: (id, name, description, ADQL) each, as XHTML with RDFa."""
    body = "".join(
        f'<div typeof="example" id={quoteattr(eid)} resource="#{_x(eid)}">'
        f'<h2 property="name">{_x(name)}</h2><p>{_x(text)}</p>'
        f'<pre property="query">{_x(query)}</pre></div>'
        for eid, name, text, query in examples
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        "<title>hectornb TAP examples</title></head>"
        f'<body vocab="http://www.ivoa.net/rdf/examples#"><h1>Example queries</h1>{body}'
        "</body></html>\n"
    ).encode()
