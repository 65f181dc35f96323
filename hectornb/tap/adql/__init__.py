"""ADQL 2.1 → PostgreSQL, through a real grammar (``adql.lark``).

Geometry (POINT, CIRCLE, BOX, POLYGON, CONTAINS, INTERSECTS, DISTANCE, …) is translated onto
plain columns and the functions of migration ``0006_tap`` (schema ``hnb_adql``): a cone adds
a declination band and an RA window that a b-tree on (dec, ra) can use.

- `parse`: the grammar and the parse tree, and `ADQLError`, which says where a query is wrong;
- `translator`: `translate`, made of `queries` (SELECT, FROM, joins, set operations, WITH),
  `values` (expressions and conditions) and `functions` (math, string, aggregates, CAST);
- `geometry`: the geometry functions, `GEOMETRY_FUNCTIONS` listing them;
- `scope`: the tables and columns a query may name; `sql`: what an expression translates to;
- `features`: what the VOSI capabilities advertise (`LANGUAGE_FEATURES`).
"""

from .features import LANGUAGE_FEATURES
from .geometry import GEOMETRY_FUNCTIONS
from .parse import ADQLError, parse
from .translator import Translation, translate

__all__ = [
    "GEOMETRY_FUNCTIONS",
    "LANGUAGE_FEATURES",
    "ADQLError",
    "Translation",
    "parse",
    "translate",
]
