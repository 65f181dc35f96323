"""ADQL's functions other than geometry: mathematical, string, aggregate, COALESCE and its
kin, and CAST, each onto a fixed PostgreSQL template.

The grammar reads any name followed by parentheses as a call (so a column may be called
``area`` or ``size``); only the names in these tables translate, so no PostgreSQL function
can be reached by naming it (``pg_sleep``, ``set_config``, ``lo_import``, ...).
"""

from __future__ import annotations

from collections.abc import Callable

from lark import Tree

from .geometry import GEOMETRY_FUNCTIONS, REFUSED_GEOMETRY, geometry_call
from .parse import ADQLError, identifier
from .scope import Scope
from .sql import Sql, Value

# ADQL name -> (PostgreSQL template, argument counts)
_FUNCTIONS: dict[str, tuple[str, tuple[int, ...]]] = {
    "abs": ("abs({0})", (1,)),
    "ceiling": ("ceiling({0})", (1,)),
    "degrees": ("degrees({0})", (1,)),
    "exp": ("exp({0})", (1,)),
    "floor": ("floor({0})", (1,)),
    "log": ("ln({0})", (1,)),
    "log10": ("log({0})", (1,)),
    "mod": ("mod({0}, {1})", (2,)),
    "pi": ("pi()", (0,)),
    "power": ("power({0}, {1})", (2,)),
    "radians": ("radians({0})", (1,)),
    "sqrt": ("sqrt({0})", (1,)),
    "rand": ("random()", (0,)),
    "sin": ("sin({0})", (1,)),
    "cos": ("cos({0})", (1,)),
    "tan": ("tan({0})", (1,)),
    "cot": ("cot({0})", (1,)),
    "asin": ("asin({0})", (1,)),
    "acos": ("acos({0})", (1,)),
    "atan": ("atan({0})", (1,)),
    "atan2": ("atan2({0}, {1})", (2,)),
    "lower": ("lower({0})", (1,)),
    "upper": ("upper({0})", (1,)),
    "round": ("round(CAST({0} AS numeric), {1})::double precision", (1, 2)),
    "truncate": ("trunc(CAST({0} AS numeric), {1})::double precision", (1, 2)),
}
_AGGREGATES = {"count", "sum", "avg", "min", "max"}
_VARIADIC = {"coalesce": "coalesce", "greatest": "greatest", "least": "least"}

# ADQL type name -> PostgreSQL type
_CASTS = {
    "integer": "integer",
    "int": "integer",
    "smallint": "smallint",
    "bigint": "bigint",
    "real": "real",
    "double precision": "double precision",
    "char": "char",
    "varchar": "varchar",
    "character": "char",
    "character varying": "varchar",
    "timestamp": "timestamp",
}


class Functions:
    """The translator's function calls (a part of `Translator`)."""

    # from the rest of the translator (values.py)
    value: Callable[[Tree, Scope], Value]
    scalar: Callable[[Tree, Scope], Sql]

    def function_call(self, tree: Tree, scope: Scope) -> Value:
        name_tok, quantifier, *args = tree.children
        args = [a for a in args if a is not None]
        name = identifier(name_tok)[0]
        if name in GEOMETRY_FUNCTIONS or name in REFUSED_GEOMETRY:
            return geometry_call(name, name_tok, args, lambda a: self.value(a, scope))
        if name in _AGGREGATES:
            if len(args) != 1:
                raise ADQLError.at(f"{name.upper()} takes one argument", name_tok)
            q = str(quantifier.children[0]).upper() + " " if quantifier is not None else ""
            return Sql(f"{name.upper()}({q}{self.scalar(args[0], scope).text})", name=name)
        if quantifier is not None:
            raise ADQLError.at(f"{name.upper()} takes no DISTINCT/ALL", name_tok)
        if name in _VARIADIC:
            texts = ", ".join(self.scalar(a, scope).text for a in args)
            return Sql(f"{_VARIADIC[name]}({texts})", name=name)
        if name not in _FUNCTIONS:
            raise ADQLError.at(f"unknown or unsupported function {name.upper()}", name_tok)
        template, counts = _FUNCTIONS[name]
        if len(args) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise ADQLError.at(
                f"{name.upper()} takes {want} argument(s), not {len(args)}", name_tok
            )
        texts = [self.scalar(a, scope).text for a in args]
        if name in ("round", "truncate") and len(texts) == 1:
            texts.append("0")  # ADQL's default: no decimals
        return Sql(template.format(*texts), name=name)

    def count_star(self, tree: Tree, scope: Scope) -> Sql:
        name, _star = tree.children
        if identifier(name)[0] != "count":
            raise ADQLError.at(f"{name}(*) is not a function: only COUNT(*)", name)
        return Sql("COUNT(*)", name="count")

    def cast(self, tree: Tree, scope: Scope) -> Sql:
        _cast, expr, _as, type_name = tree.children
        return Sql(f"CAST({self.scalar(expr, scope).text} AS {cast_type(type_name)})")


def cast_type(tree: Tree) -> str:
    """The PostgreSQL type an ADQL CAST names; only the types of ADQL 2.1 are allowed."""
    *words, length = tree.children
    name = " ".join(identifier(w)[0] for w in words)
    if name not in _CASTS:
        raise ADQLError.at(f"CAST to {name.upper()} is not supported", tree)
    pg = _CASTS[name]
    if length is not None:
        if pg not in ("char", "varchar"):
            raise ADQLError.at(f"{name.upper()} takes no length", tree)
        pg += f"({int(length)})"
    return pg
