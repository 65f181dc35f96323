"""What translating an ADQL expression yields: SQL text, plus what is known of it.

An ADQL value is not always one SQL expression. A POINT is a pair of them (right ascension
and declination) so that it stays on plain, indexable columns; a CONTAINS is a condition
that ADQL calls an integer; a DISTANCE is kept as its two points until it is known whether
it is compared with a radius (a cone, which an index can help) or used as a number. Each
kind is written out only where the place it is used in says which SQL it needs.

Literals are written from their parsed values: strings are quoted by psycopg, inline rather
than bound, so that equal expressions in SELECT and GROUP BY stay equal for PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from lark import Token, Tree
from psycopg.sql import Literal as sql_literal

from ..tableset import TapColumn
from .parse import ADQLError

FN = "hnb_adql"  # schema of the translator's SQL functions (migration 0006_tap)


@dataclass
class Sql:
    """A scalar SQL expression; ``value`` is its number when it is a constant."""

    text: str
    value: float | None = None
    column: TapColumn | None = None  # when it is a plain column of a published table
    name: str | None = None  # the name a select item gets by default


@dataclass
class Point:
    """A position, as two scalars: a POINT column would hide RA and Dec from an index."""

    ra: Sql
    dec: Sql
    xtype: ClassVar[str] = "point"

    def array(self) -> str:
        """The DALI ``point`` value (double[2]) the point is selected as."""
        return f"ARRAY[{self.ra.text}, {self.dec.text}]"


@dataclass
class Circle:
    centre: Point
    radius: Sql
    xtype: ClassVar[str] = "circle"

    def array(self) -> str:
        """The DALI ``circle`` value (double[3]) the circle is selected as."""
        return f"ARRAY[{self.centre.ra.text}, {self.centre.dec.text}, {self.radius.text}]"


@dataclass
class Polygon:
    vertices: list[Point]
    xtype: ClassVar[str] = "polygon"

    def constant(self) -> list[tuple[float, float]] | None:
        """The vertices as numbers, when the query gives them so: then the translator can
        bound the polygon by a cap, or tell its area, before PostgreSQL sees a row."""
        out = [(v.ra.value, v.dec.value) for v in self.vertices]
        return None if any(a is None or b is None for a, b in out) else out  # type: ignore

    def array(self) -> str:
        """The vertices as one flat array: DALI's ``polygon`` value and what
        ``hnb_adql.in_polygon`` takes."""
        return "ARRAY[" + ", ".join(f"{v.ra.text}, {v.dec.text}" for v in self.vertices) + "]"


Region = Point | Circle | Polygon


@dataclass
class Predicate:
    """A geometric condition (CONTAINS, INTERSECTS): SQL boolean, ADQL integer 0/1."""

    text: str


@dataclass
class Distance:
    """DISTANCE(a, b), kept as its points until it is known whether it bounds a cone."""

    a: Point
    b: Point

    def sql(self) -> Sql:
        return Sql(
            f"{FN}.distance({self.a.ra.text}, {self.a.dec.text}, "
            f"{self.b.ra.text}, {self.b.dec.text})",
            name="distance",
        )


Value = Sql | Point | Circle | Polygon | Predicate | Distance


def string_literal(text: str) -> str:
    """``text`` as a quoted SQL string literal (psycopg's quoting, not ours)."""
    return sql_literal(text).as_string(None)


def number_literal(text: str) -> str:
    """An ADQL decimal re-written from its parsed value, so that only a number reaches the
    SQL; one beyond double precision (``1e999``) is refused with a ValueError."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return repr(value)


def as_scalar(value: Value, node: Tree | Token | None) -> Sql:
    """``value`` where SQL needs one expression: a condition becomes ADQL's integer 0/1,
    a distance its number; a region cannot be one, and the error says where it was."""
    if isinstance(value, Sql):
        return value
    if isinstance(value, Predicate):
        return Sql(f"({value.text})::integer")
    if isinstance(value, Distance):
        return value.sql()
    kind = type(value).__name__.upper()
    raise ADQLError.at(f"a {kind} cannot be used as a number or string here", node)


def as_condition(value: Value, node: Tree | Token | None) -> str:
    """``value`` where SQL needs a condition (WHERE, ON, HAVING, CASE WHEN)."""
    if isinstance(value, Predicate | Sql):
        return value.text
    raise ADQLError.at("a geometry is not a condition: compare it, e.g. 1=CONTAINS(…)", node)
