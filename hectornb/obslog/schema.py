"""What the observing log holds: its collections, their fields (snake_case after Data Central's
observing-log column headings, with units) and the rules a value must follow.

`validate` checks a whole record (or the fields of an edit) and reports every bad field at
once, each with its reason, so a form or a script can fix them all in one go.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass

from ..errors import Invalid

BUNDLES = tuple("ABCDEFGHIJKLMNOPQRSTU")  # Hector's 21 hexabundles
STANDARD_BUNDLES = ("H", "U")  # they take standard stars
GUIDES = tuple(f"GS{i}" for i in range(1, 7))
_TAG = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")  # as Rubin's logs: tags are words


class FieldErrors(Invalid):
    """Bad values (HTTP 422): ``errors`` lists ``{"field", "reason"}``, one per bad field."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))


@dataclass(frozen=True)
class Field:
    """One field of a collection.

    ``kind`` is int, float, text, date, time (a UT timestamp; in a log entry also a UT time
    of day, which its night dates), bool, texts (a list of words), choice or json.
    ``search`` says how a list can filter on it: ``range`` (min_/max_), ``exact`` (any of
    the values given), ``text`` (the free-text ``q``), ``tags`` (any of, and exclude_tags).
    ``suggestions`` are usual values of a free-text field, for forms to offer. ``unit`` is
    astropy's; ``ucd`` the IVOA UCD that TAP publishes.
    """

    name: str
    kind: str
    description: str
    unit: str = ""
    required: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    search: str = ""
    suggestions: tuple[str, ...] = ()
    ucd: str = ""


@dataclass(frozen=True)
class Collection:
    name: str
    key: str  # the field that identifies a record
    fields: tuple[Field, ...]
    description: str
    generated_key: bool = False  # log entries get a UUID when none is given

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def table(self) -> str:
        return f"obslog_{self.name}"


def _ra(name="ra"):
    return Field(
        name,
        "float",
        "right ascension (ICRS)",
        "deg",
        True,
        0.0,
        360.0,
        search="range",
        ucd="pos.eq.ra;meta.main",
    )


def _dec(name="dec"):
    return Field(
        name,
        "float",
        "declination (ICRS)",
        "deg",
        True,
        -90.0,
        90.0,
        search="range",
        ucd="pos.eq.dec;meta.main",
    )


COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "targets",
            "galaxy_id",
            (
                Field(
                    "galaxy_id",
                    "int",
                    "catalogue id of the galaxy (64-bit)",
                    required=True,
                    low=0,
                    high=2**63 - 1,
                    search="exact",
                    ucd="meta.id;meta.main",
                ),
                _ra(),
                _dec(),
                Field(
                    "z",
                    "float",
                    "redshift",
                    low=-0.01,
                    high=10.0,
                    search="range",
                    ucd="src.redshift",
                ),
                Field(
                    "g_mag",
                    "float",
                    "g magnitude",
                    "mag",
                    low=-5,
                    high=40,
                    search="range",
                    ucd="phot.mag;em.opt.B",
                ),
                Field(
                    "r_mag",
                    "float",
                    "r magnitude",
                    "mag",
                    low=-5,
                    high=40,
                    search="range",
                    ucd="phot.mag;em.opt.R",
                ),
                Field(
                    "re",
                    "float",
                    "effective radius",
                    "arcsec",
                    low=0,
                    high=3600,
                    ucd="phys.angSize",
                ),
                Field(
                    "mstar",
                    "float",
                    "log10 of the stellar mass",
                    "dex(Msun)",
                    low=0,
                    high=14,
                    ucd="phys.mass",
                ),
                Field("meta", "json", "any other catalogue values"),
            ),
            "galaxies a tile can observe",
        ),
        Collection(
            "stars",
            "star_id",
            (
                Field(
                    "star_id",
                    "text",
                    "catalogue id of the star",
                    required=True,
                    search="exact",
                    ucd="meta.id;meta.main",
                ),
                _ra(),
                _dec(),
                Field(
                    "magnitude",
                    "float",
                    "magnitude",
                    "mag",
                    low=-5,
                    high=40,
                    search="range",
                    ucd="phot.mag",
                ),
                Field(
                    "kind",
                    "choice",
                    "what the star is for",
                    required=True,
                    choices=("standard", "guide"),
                    search="exact",
                    ucd="meta.code.class",
                ),
                Field("meta", "json", "any other catalogue values"),
            ),
            "standard and guide stars",
        ),
        Collection(
            "tiles",
            "tile_id",
            (
                Field(
                    "tile_id",
                    "text",
                    "tile id, T-<id>-<ra>-<dec>-<date>",
                    required=True,
                    search="exact",
                    ucd="meta.id;meta.main",
                ),
                _ra(),
                _dec(),
                Field(
                    "date",
                    "date",
                    "date the tile was made for (UT)",
                    search="range",
                    ucd="time.epoch",
                ),
                Field(
                    "qc_pass",
                    "bool",
                    "passed quality control",
                    search="exact",
                    ucd="meta.code.qual",
                ),
                Field("plate_id", "text", "plate", search="exact", ucd="meta.id"),
                Field("label", "text", "label", search="text", ucd="meta.note"),
                Field(
                    "bundles",
                    "json",
                    "hexabundles A-U: {letter: {kind: target|star, id}}",
                    ucd="meta.note",
                ),
                Field("guides", "json", "guide bundles GS1-GS6: {name: star id}"),
                Field("sky", "json", "sky fibres: [{name, ra, dec}]"),
                Field("meta", "json", "the tile file's header and anything else"),
            ),
            "Hector tiles: a field with its 21 hexabundles, guide bundles and sky fibres",
        ),
        Collection(
            "runs",
            "run_id",
            (
                Field(
                    "run_id",
                    "text",
                    "observing run id",
                    required=True,
                    search="exact",
                    ucd="meta.id;meta.main",
                ),
                Field(
                    "start_date",
                    "date",
                    "first night",
                    required=True,
                    search="range",
                    ucd="time.start",
                ),
                Field(
                    "end_date", "date", "last night", required=True, search="range", ucd="time.end"
                ),
                Field("observers", "texts", "observers", search="tags", ucd="meta.curation"),
                Field("instrument", "text", "instrument", search="exact", ucd="instr.setup"),
                Field(
                    "setup",
                    "text",
                    "instrument set-up (gratings, angles)",
                    search="text",
                    ucd="instr.setup",
                ),
                Field("comment", "text", "comment", search="text", ucd="meta.note"),
            ),
            "observing runs",
        ),
        Collection(
            "logs",
            "log_id",
            (
                Field(
                    "log_id",
                    "text",
                    "log entry id (a UUID unless given)",
                    search="exact",
                    ucd="meta.id;meta.main",
                ),
                Field(
                    "night",
                    "date",
                    "night (local date of its evening)",
                    required=True,
                    search="range",
                    ucd="time.epoch",
                ),
                Field("time", "time", "time of the entry (UT)", search="range", ucd="time.epoch"),
                Field("run_id", "text", "observing run", search="exact", ucd="meta.id"),
                Field("tile_id", "text", "tile observed", search="exact", ucd="meta.id"),
                Field(
                    "frames",
                    "texts",
                    "raw frames (archive file names)",
                    search="tags",
                    ucd="meta.file",
                ),
                Field(
                    "exposure",
                    "float",
                    "exposure time",
                    "s",
                    low=0,
                    high=86400,
                    search="range",
                    ucd="time.duration;obs.exposure",
                ),
                Field(
                    "seeing",
                    "float",
                    "seeing (FWHM)",
                    "arcsec",
                    low=0,
                    high=20,
                    search="range",
                    ucd="instr.obsty.seeing",
                ),
                Field(
                    "transparency",
                    "choice",
                    "transparency",
                    choices=("photometric", "clear", "thin cloud", "thick cloud", "closed"),
                    search="exact",
                    ucd="meta.note",
                ),
                Field(
                    "weather",
                    "text",
                    "weather",
                    search="text",
                    suggestions=(
                        "clear",
                        "cloud",
                        "rain",
                        "high wind",
                        "high humidity",
                        "fog",
                        "snow",
                        "dust",
                    ),
                    ucd="meta.note",
                ),
                Field(
                    "time_lost",
                    "float",
                    "time lost",
                    "h",
                    low=0,
                    high=24,
                    search="range",
                    ucd="time.duration",
                ),
                Field(
                    "lost_reason",
                    "text",
                    "why the time was lost",
                    search="text",
                    suggestions=(
                        "weather",
                        "technical fault",
                        "instrument change",
                        "software",
                        "other",
                    ),
                    ucd="meta.note",
                ),
                Field(
                    "qc",
                    "choice",
                    "quality control",
                    choices=("pass", "fail", "pending"),
                    search="exact",
                    ucd="meta.code.qual",
                ),
                Field("comment", "text", "comment", search="text", ucd="meta.note"),
                Field(
                    "tags",
                    "texts",
                    "tags (words; stored lower-case)",
                    search="tags",
                    ucd="meta.note",
                ),
            ),
            "the night log",
            generated_key=True,
        ),
    )
}


def collection(name: str) -> Collection:
    try:
        return COLLECTIONS[name]
    except KeyError:
        from ..errors import NotFound

        raise NotFound(f"no collection {name!r}: one of {', '.join(COLLECTIONS)}") from None


def parse_value(f: Field, value):
    """``value`` as ``f`` stores it, or raise ValueError with the reason."""
    if value is None or value == "":
        if f.required:
            raise ValueError("required")
        return [] if f.kind == "texts" else None
    if f.kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"must be a whole number, not {value!r}")
        try:
            out = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a whole number, not {value!r}") from None
    elif f.kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"must be a number, not {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number, not {value!r}") from None
        if not math.isfinite(out):
            raise ValueError("must be a finite number")
    elif f.kind == "text":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be text")
        out = str(value).strip()
        if len(out) > 10_000:
            raise ValueError("is longer than 10,000 characters")
    elif f.kind == "choice":
        out = str(value).strip().lower()
        if out not in f.choices:
            raise ValueError(f"must be one of {', '.join(f.choices)}, not {value!r}")
    elif f.kind == "date":
        try:
            out = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"must be a date YYYY-MM-DD, not {value!r}") from None
    elif f.kind == "time":
        out = _time(value)
    elif f.kind == "bool":
        if isinstance(value, bool):
            out = value
        elif str(value).lower() in ("true", "1", "yes", "pass"):
            out = True
        elif str(value).lower() in ("false", "0", "no", "fail"):
            out = False
        else:
            raise ValueError(f"must be true or false, not {value!r}")
    elif f.kind == "texts":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("must be a list of words")
        out = [str(v).strip() for v in items if str(v).strip()]
        if f.name == "tags":
            bad = [t for t in out if not _TAG.match(t)]
            if bad:
                raise ValueError(f"tags are words (a letter, then letters, digits or _): {bad}")
            out = sorted({t.lower() for t in out})
    elif f.kind == "json":
        out = value
    else:  # a field kind this module does not know is a programming error
        raise AssertionError(f.kind)
    if f.low is not None and isinstance(out, int | float) and not f.low <= out <= f.high:
        raise ValueError(
            f"must be between {f.low:g} and {f.high:g}{' ' + f.unit if f.unit else ''}, not {out:g}"
        )
    return out


_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:UTC?)?\s*$", re.I)


def _time(value) -> dt.datetime | dt.time:
    """A UT timestamp, or a UT time of day (``10:30``, ``10:30:15``) for the night to date."""
    if isinstance(value, dt.datetime | dt.time):
        out = value
    elif (m := _TIME_OF_DAY.match(str(value))) is not None:
        try:
            return dt.time(int(m[1]), int(m[2]), int(m[3] or 0))
        except ValueError:
            raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59:59)") from None
    else:
        try:
            out = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"must be a UT time of the night, hh:mm or hh:mm:ss (or a date "
                f"and time YYYY-MM-DDThh:mm), not {value!r}"
            ) from None
    if isinstance(out, dt.datetime) and out.tzinfo is None:
        out = out.replace(tzinfo=dt.UTC)
    return out


def _tile_parts(record: dict, errors: list[dict]) -> None:
    bundles = record.get("bundles") or {}
    if not isinstance(bundles, dict):
        errors.append({"field": "bundles", "reason": "must map bundle letters A-U to members"})
        return
    for letter, member in bundles.items():
        where = f"bundles.{letter}"
        if letter not in BUNDLES:
            errors.append({"field": where, "reason": "Hector's hexabundles are A to U"})
        elif (
            not isinstance(member, dict)
            or member.get("kind") not in ("target", "star")
            or not str(member.get("id", "")).strip()
        ):
            errors.append({"field": where, "reason": "must be {kind: target|star, id}"})
        elif letter in STANDARD_BUNDLES and member["kind"] != "star":
            errors.append({"field": where, "reason": f"bundle {letter} takes a standard star"})
    guides = record.get("guides") or {}
    if not isinstance(guides, dict) or any(g not in GUIDES for g in guides):
        errors.append({"field": "guides", "reason": "must map GS1-GS6 to guide star ids"})
    sky = record.get("sky") or []
    if not isinstance(sky, list):
        errors.append({"field": "sky", "reason": "must be a list of sky fibres"})


def members(record: dict) -> list[str]:
    """Ids of the targets and stars in a tile's bundles and guide bundles."""
    ids = {str(m["id"]) for m in (record.get("bundles") or {}).values() if isinstance(m, dict)}
    ids |= {str(s) for s in (record.get("guides") or {}).values()}
    return sorted(ids)


def validate(coll: Collection, data: dict, partial: bool = False) -> dict:
    """The clean record (every field when not ``partial``, else only those given), or
    `FieldErrors` naming every bad field and why."""
    if not isinstance(data, dict):
        raise FieldErrors([{"field": "", "reason": "a record is a JSON object"}])
    errors = [{"field": k, "reason": "unknown field"} for k in data if coll.field(k) is None]
    clean = {}
    for f in coll.fields:
        if partial and f.name not in data:
            continue
        if f.name == coll.key and coll.generated_key and not data.get(f.name):
            clean[f.name] = str(uuid.uuid4())
            continue
        try:
            clean[f.name] = parse_value(f, data.get(f.name))
        except ValueError as exc:
            errors.append({"field": f.name, "reason": str(exc)})
    if coll.name == "tiles":
        _tile_parts(clean, errors)
    if isinstance(clean.get("time"), dt.time) and isinstance(clean.get("night"), dt.date):
        from ..instrument import night_time

        clean["time"] = night_time(clean["night"], clean["time"])
    elif isinstance(clean.get("time"), dt.datetime) and isinstance(clean.get("night"), dt.date):
        from ..instrument import night_time

        # a whole timestamp must fall during its night (within a day of its local midnight)
        if abs(clean["time"] - night_time(clean["night"], dt.time(12))) > dt.timedelta(days=1):
            errors.append(
                {
                    "field": "time",
                    "reason": f"{clean['time']:%Y-%m-%d %H:%M} UT is "
                    f"not during the night of {clean['night']}",
                }
            )
    elif isinstance(clean.get("time"), dt.time) and not partial:
        errors.append({"field": "time", "reason": "a time of day needs the night's date"})
    if (
        coll.name == "runs"
        and not errors
        and clean.get("start_date")
        and clean.get("end_date")
        and clean["end_date"] < clean["start_date"]
    ):
        errors.append({"field": "end_date", "reason": "is before start_date"})
    if errors:
        raise FieldErrors(errors)
    return clean
