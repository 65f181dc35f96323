"""The ADQL the translator supports, as TAPRegExt language features.

The service's VOSI capabilities advertise exactly these (`hectornb.tap.vosi`), and the
geometry among them is `GEOMETRY_FUNCTIONS`, the table the translator dispatches by: a
client is never promised a function the translator refuses.
"""

from __future__ import annotations

from .geometry import GEOMETRY_FUNCTIONS

#: ADQL features the translator really supports, by TAPRegExt feature type
LANGUAGE_FEATURES: dict[str, list[str]] = {
    "ivo://ivoa.net/std/TAPRegExt#features-adqlgeo": [f.upper() for f in GEOMETRY_FUNCTIONS],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-string": ["LOWER", "UPPER", "ILIKE"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-sets": ["UNION", "EXCEPT", "INTERSECT"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-common-table": ["WITH"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-type": ["CAST"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-offset": ["OFFSET"],
}
