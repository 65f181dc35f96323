"""ADQL's geometry functions, on plain columns and the SQL functions of migration
``0006_tap`` (schema ``hnb_adql``), so that the service runs on stock PostgreSQL.

`GEOMETRY_FUNCTIONS` is the one list of the geometry the translator supports: it dispatches
a call by it, and the VOSI capabilities advertise its names (see `features`).

Speed comes from the shape of the SQL: a cone (CONTAINS of a point in a circle, or DISTANCE
under a radius) adds a declination band and, away from the poles, a window in right
ascension that a b-tree on (dec, ra) can use, before the exact great-circle distance; a
polygon with constant vertices is first bounded by a cap, and so by a cone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lark import Token, Tree

from .. import geometry as sphere
from .parse import ADQLError
from .sql import (
    FN,
    Circle,
    Distance,
    Point,
    Polygon,
    Predicate,
    Sql,
    Value,
    as_scalar,
    string_literal,
)


@dataclass
class Call:
    """A call of a geometry function, its arguments already translated."""

    name: str  # lower case
    token: Token  # the function's name, where errors point
    args: list[Tree]  # the arguments' parse trees, where errors about one of them point
    values: list[Value]

    def error(self, message: str) -> ADQLError:
        return ADQLError.at(message, self.token)

    def scalars(self) -> list[Sql]:
        """The arguments as numbers, any error at the function's name."""
        return [as_scalar(v, self.token) for v in self.values]


def needs_point(value: Value, node: Tree | Token | None) -> Point:
    if isinstance(value, Point):
        return value
    raise ADQLError.at("a POINT is needed here", node)


# ---- the functions ---------------------------------------------------------------------


def point(call: Call) -> Point:
    if len(call.values) != 2:
        raise call.error("POINT takes (ra, dec)")
    ra, dec = (as_scalar(v, node) for v, node in zip(call.values, call.args, strict=True))
    return Point(ra, dec)


def circle(call: Call) -> Circle:
    values, args = call.values, call.args
    if len(values) == 2:
        return Circle(needs_point(values[0], args[0]), as_scalar(values[1], args[1]))
    if len(values) == 3:
        ra, dec, r = call.scalars()
        return Circle(Point(ra, dec), r)
    raise call.error("CIRCLE takes (ra, dec, radius) or (point, radius)")


def box(call: Call) -> Polygon:
    """A BOX is its four corners: ADQL 2.1 deprecates it, and a polygon is what the SQL has."""
    values = call.values
    if len(values) == 3:
        c = needs_point(values[0], call.args[0])
        ra, dec = c.ra, c.dec
        w, h = as_scalar(values[1], call.token), as_scalar(values[2], call.token)
    elif len(values) == 4:
        ra, dec, w, h = call.scalars()
    else:
        raise call.error("BOX takes (ra, dec, width, height)")
    if None in (ra.value, dec.value, w.value, h.value):
        raise call.error("BOX needs constant arguments")
    r0, d0, hw, hh = ra.value, dec.value, w.value / 2, h.value / 2  # type: ignore
    corners = [(r0 - hw, d0 - hh), (r0 + hw, d0 - hh), (r0 + hw, d0 + hh), (r0 - hw, d0 + hh)]
    return Polygon([Point(Sql(repr(a % 360), a % 360), Sql(repr(b), b)) for a, b in corners])


def polygon(call: Call) -> Polygon:
    values = call.values
    if all(isinstance(v, Point) for v in values):
        vertices = list(values)
    else:
        if len(values) % 2 or not all(isinstance(v, Sql) for v in values):
            raise call.error("POLYGON takes ra, dec pairs or points")
        vertices = [Point(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    if len(vertices) < 3:
        raise call.error("a POLYGON needs at least 3 vertices")
    return Polygon(vertices)  # type: ignore[arg-type]


def distance(call: Call) -> Distance:
    values, args = call.values, call.args
    if len(values) == 4:
        a, b, c, d = (as_scalar(v, node) for v, node in zip(values, args, strict=True))
        return Distance(Point(a, b), Point(c, d))
    if len(values) == 2:
        return Distance(needs_point(values[0], args[0]), needs_point(values[1], args[1]))
    raise call.error("DISTANCE takes two points or four numbers")


def coordinate(call: Call) -> Sql:
    """COORD1 and COORD2: a point is already its two coordinates."""
    if len(call.values) != 1:
        raise call.error(f"{call.name.upper()} takes one POINT")
    p = needs_point(call.values[0], call.args[0])
    return p.ra if call.name == "coord1" else p.dec


def coordsys(call: Call) -> Sql:
    """Every position the service publishes is ICRS."""
    return Sql(string_literal("ICRS"), name="coordsys")


def area(call: Call) -> Sql:
    if len(call.values) != 1:
        raise call.error("AREA takes one region")
    g = call.values[0]
    if isinstance(g, Circle):
        r = g.radius.text
        return Sql(f"(2 * pi() * (1 - cos(radians({r}))) * power(180 / pi(), 2))", name="area")
    if isinstance(g, Polygon) and (vertices := g.constant()) is not None:
        return Sql(repr(sphere.polygon_area(vertices)), name="area")
    raise call.error(
        "AREA of this region is not supported (a circle, or a polygon with constant vertices)"
    )


def centroid(call: Call) -> Point:
    if len(call.values) == 1 and isinstance(call.values[0], Circle):
        return call.values[0].centre
    raise call.error("CENTROID is supported for circles only")


def relation(call: Call) -> Predicate:
    """CONTAINS and INTERSECTS, for the pairs of regions the SQL can test."""
    if len(call.values) != 2:
        raise call.error(f"{call.name.upper()} takes two regions")
    name, (a, b) = call.name, call.values
    if name == "intersects" and isinstance(b, Point) and not isinstance(a, Point):
        a, b = b, a
    if isinstance(a, Point) and isinstance(b, Circle):
        return Predicate(cone(a, b.centre, b.radius))
    if isinstance(a, Point) and isinstance(b, Polygon):
        test = f"{FN}.in_polygon({a.ra.text}, {a.dec.text}, {b.array()})"
        const = b.constant()
        if const is not None:
            ra, dec, r = sphere.bounding_cap(const)
            cap = Point(Sql(repr(ra), ra), Sql(repr(dec), dec))
            return Predicate(f"({cone(a, cap, Sql(repr(r), r))} AND {test})")
        return Predicate(test)
    if isinstance(a, Circle) and isinstance(b, Circle):
        d = Distance(a.centre, b.centre).sql().text
        if name == "contains":
            return Predicate(f"({d} + {a.radius.text} <= {b.radius.text})")
        r = Sql(f"({a.radius.text} + {b.radius.text})")
        if a.radius.value is not None and b.radius.value is not None:
            r.value = a.radius.value + b.radius.value
        return Predicate(cone(a.centre, b.centre, r))
    kinds = f"{type(a).__name__.upper()}, {type(b).__name__.upper()}"
    raise call.error(f"{name.upper()}({kinds}) is not supported")


#: The geometry functions the translator supports (ADQL name, lower case -> translation),
#: in the order the VOSI capabilities list them (TAPRegExt ``features-adqlgeo``).
GEOMETRY_FUNCTIONS: dict[str, Callable[[Call], Value]] = {
    "point": point,
    "circle": circle,
    "box": box,
    "polygon": polygon,
    "contains": relation,
    "intersects": relation,
    "distance": distance,
    "coord1": coordinate,
    "coord2": coordinate,
    "coordsys": coordsys,
    "area": area,
    "centroid": centroid,
}

#: ADQL geometry functions refused with a reason, rather than as unknown functions
REFUSED_GEOMETRY = {"region": "REGION is not supported (it is deprecated in ADQL 2.1)"}

#: the functions whose first argument may be ADQL 2.0's coordinate system, a string
_TAKE_A_FRAME = {"point", "circle", "box", "polygon"}


def geometry_call(
    name: str, token: Token, args: list[Tree], translate: Callable[[Tree], Value]
) -> Value:
    """The value of the geometry function ``name`` called with ``args``, which
    ``translate`` turns into values."""
    if name in _TAKE_A_FRAME and args and isinstance(args[0], Tree) and args[0].data == "string":
        args = args[1:]  # ADQL 2.0's coordinate system argument, deprecated in 2.1
    call = Call(name, token, args, [translate(a) for a in args])
    if name in REFUSED_GEOMETRY:
        raise call.error(REFUSED_GEOMETRY[name])
    return GEOMETRY_FUNCTIONS[name](call)


# ---- comparisons that are cones ----------------------------------------------------------


def geometric_comparison(left: Value, op: str, right: Value, a: Tree, b: Tree) -> Predicate | None:
    """The comparison ``left op right`` as a geometric condition an index can help, or None
    when it is an ordinary comparison (``a`` and ``b`` are the sides' parse trees)."""
    # 1 = CONTAINS(...) and friends: the predicate itself, so its index help stays
    for pred, other in ((left, right), (right, left)):
        if (
            isinstance(pred, Predicate)
            and isinstance(other, Sql)
            and other.value in (0, 1)
            and op in ("=", "<>", "!=")
        ):
            truth = (other.value == 1) == (op == "=")
            return Predicate(pred.text if truth else f"NOT ({pred.text})")
    # DISTANCE(...) < r: a declination band (and an RA window) before the exact test
    if isinstance(left, Distance) and op in ("<", "<="):
        radius = as_scalar(right, b)
        return Predicate(cone(left.a, left.b, radius, op))
    if isinstance(right, Distance) and op in (">", ">="):
        radius = as_scalar(left, a)
        return Predicate(cone(right.a, right.b, radius, "<" if op == ">" else "<="))
    return None


def cone(p: Point, centre: Point, radius: Sql, op: str = "<=") -> str:
    """Points ``p`` within ``radius`` of ``centre``, in a form an index on dec can use."""
    exact = (
        f"{FN}.distance({p.ra.text}, {p.dec.text}, {centre.ra.text}, "
        f"{centre.dec.text}) {op} {radius.text}"
    )
    parts = []
    for a, b in ((p, centre), (centre, p)):
        if a.dec.value is None:  # a column or an expression: a band an index can use
            if b.dec.value is not None and radius.value is not None:
                lo, hi = b.dec.value - radius.value, b.dec.value + radius.value
                parts.append(f"{a.dec.text} BETWEEN {lo!r} AND {hi!r}")
            else:
                parts.append(
                    f"{a.dec.text} BETWEEN {b.dec.text} - {radius.text} "
                    f"AND {b.dec.text} + {radius.text}"
                )
            if b.ra.value is not None and b.dec.value is not None and radius.value is not None:
                w = sphere.ra_half_width(b.dec.value, radius.value)
                if w is not None:
                    ra0 = b.ra.value % 360
                    lo, hi = ra0 - w, ra0 + w
                    if lo < 0:
                        parts.append(f"({a.ra.text} >= {lo + 360!r} OR {a.ra.text} <= {hi!r})")
                    elif hi >= 360:
                        parts.append(f"({a.ra.text} >= {lo!r} OR {a.ra.text} <= {hi - 360!r})")
                    else:
                        parts.append(f"{a.ra.text} BETWEEN {lo!r} AND {hi!r}")
    return "(" + " AND ".join([*parts, exact]) + ")"
