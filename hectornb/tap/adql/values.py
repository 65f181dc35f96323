"""Value expressions: literals, columns, arithmetic, comparisons and the other conditions,
CASE, sub-queries; each grammar rule by its own method, found in `VALUE_RULES`.

ADQL's conditions and values share one expression grammar (a parenthesis may open either),
so every expression is translated as a value, and the place it is used in asks for what it
needs: `Values.scalar` for one SQL expression, `Values.condition` for a condition.
"""

from __future__ import annotations

from collections.abc import Callable

from lark import Token, Tree

from .functions import Functions
from .geometry import geometric_comparison
from .parse import ADQLError
from .scope import Scope
from .sql import Predicate, Sql, Value, as_condition, as_scalar, number_literal, string_literal


class Values:
    """The translator's value expressions (a part of `Translator`)."""

    # from the rest of the translator (queries.py)
    query_expression: Callable[..., str]

    def value(self, tree: Tree | Token, scope: Scope) -> Value:
        """The translation of any expression, by the grammar rule that made it."""
        if isinstance(tree, Token):
            raise ADQLError.at(f"unexpected {str(tree)!r}", tree)
        rule = VALUE_RULES.get(tree.data)
        if rule is None:
            raise ADQLError.at(f"{tree.data} is not supported", tree)
        return rule(self, tree, scope)

    def scalar(self, tree: Tree, scope: Scope) -> Sql:
        return as_scalar(self.value(tree, scope), tree)

    def condition(self, tree: Tree, scope: Scope) -> str:
        """SQL for a place that needs a condition (WHERE, ON, HAVING, CASE WHEN)."""
        return as_condition(self.value(tree, scope), tree)

    # ---- literals and columns ----------------------------------------------------------

    def integer(self, tree: Tree, scope: Scope) -> Sql:
        n = int(tree.children[0])
        return Sql(str(n), value=float(n))

    def decimal(self, tree: Tree, scope: Scope) -> Sql:
        text = number_literal(str(tree.children[0]))
        return Sql(text, value=float(text))

    def hex_integer(self, tree: Tree, scope: Scope) -> Sql:
        v = int(str(tree.children[0]), 16)
        return Sql(str(v), value=float(v))

    def string(self, tree: Tree, scope: Scope) -> Sql:
        return Sql(string_literal(str(tree.children[0])[1:-1].replace("''", "'")))

    def null(self, tree: Tree, scope: Scope) -> Sql:
        return Sql("NULL")

    def column_reference(self, tree: Tree, scope: Scope) -> Sql:
        return scope.column(tree.children[0])

    # ---- arithmetic ----------------------------------------------------------------------

    def negative(self, tree: Tree, scope: Scope) -> Sql:
        inner = self.scalar(tree.children[1], scope)
        return Sql(f"(-{inner.text})", value=None if inner.value is None else -inner.value)

    def unary_plus(self, tree: Tree, scope: Scope) -> Value:
        return self.value(tree.children[1], scope)

    def arithmetic(self, tree: Tree, scope: Scope) -> Sql:
        """Constants are also computed, so that a radius like ``4.0 / 3600`` is a number the
        cone's declination band can use."""
        a, op, b = tree.children
        left, right = self.scalar(a, scope), self.scalar(b, scope)
        value = None
        if left.value is not None and right.value is not None:
            try:
                x, y = left.value, right.value
                value = {
                    "+": lambda: x + y,
                    "-": lambda: x - y,
                    "*": lambda: x * y,
                    "/": lambda: x / y,
                }[str(op)]()
            except (OverflowError, ZeroDivisionError):
                value = None
        return Sql(f"({left.text} {op} {right.text})", value=value)

    def concatenation(self, tree: Tree, scope: Scope) -> Sql:
        a, b = tree.children
        return Sql(f"({self.scalar(a, scope).text} || {self.scalar(b, scope).text})")

    # ---- conditions ------------------------------------------------------------------------

    def comparison(self, tree: Tree, scope: Scope) -> Sql | Predicate:
        a, op_tok, b = tree.children
        op = str(op_tok)
        left, right = self.value(a, scope), self.value(b, scope)
        geometric = geometric_comparison(left, op, right, a, b)
        if geometric is not None:
            return geometric
        op = "<>" if op == "!=" else op
        return Sql(f"({as_scalar(left, a).text} {op} {as_scalar(right, b).text})")

    def and_(self, tree: Tree, scope: Scope) -> Sql:
        a, _and, b = tree.children
        return Sql(f"({self.condition(a, scope)} AND {self.condition(b, scope)})")

    def or_(self, tree: Tree, scope: Scope) -> Sql:
        a, _or, b = tree.children
        return Sql(f"({self.condition(a, scope)} OR {self.condition(b, scope)})")

    def not_(self, tree: Tree, scope: Scope) -> Sql:
        return Sql(f"(NOT {self.condition(tree.children[1], scope)})")

    def between(self, tree: Tree, scope: Scope) -> Sql:
        x, neg, _b, lo, _and, hi = tree.children
        low, high = self.scalar(lo, scope).text, self.scalar(hi, scope).text
        return Sql(
            f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}BETWEEN {low} AND {high})"
        )

    def in_list(self, tree: Tree, scope: Scope) -> Sql:
        x, neg, _in, *items = tree.children
        values = ", ".join(self.scalar(i, scope).text for i in items)
        return Sql(f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}IN ({values}))")

    def in_query(self, tree: Tree, scope: Scope) -> Sql:
        x, neg, _in, sub = tree.children
        inner = self.query_expression(sub, scope)
        return Sql(f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}IN ({inner}))")

    def like(self, tree: Tree, scope: Scope) -> Sql:  # and ILIKE
        x, neg, _op, pattern = tree.children
        op = "LIKE" if tree.data == "like" else "ILIKE"
        # ADQL's LIKE has no escape character; PostgreSQL's default one is \\
        return Sql(
            f"({self.scalar(x, scope).text} {'NOT ' if neg else ''}{op} "
            f"{self.scalar(pattern, scope).text} ESCAPE '')"
        )

    def is_null(self, tree: Tree, scope: Scope) -> Sql:
        x, _is, neg, _null = tree.children
        return Sql(f"({self.scalar(x, scope).text} IS {'NOT ' if neg else ''}NULL)")

    def exists(self, tree: Tree, scope: Scope) -> Sql:
        return Sql(f"(EXISTS ({self.query_expression(tree.children[1], scope)}))")

    # ---- sub-queries and CASE --------------------------------------------------------------

    def scalar_subquery(self, tree: Tree, scope: Scope) -> Sql:
        return Sql(f"({self.query_expression(tree.children[0], scope)})")

    def case(self, tree: Tree, scope: Scope) -> Sql:
        """Both forms: ``CASE x WHEN value ...`` and ``CASE WHEN condition ...``."""
        _case, subject, *rest = tree.children
        whens = [w for w in rest if isinstance(w, Tree) and w.data == "when"]
        default = rest[-2]  # [ELSE expression] END: None when there is no ELSE
        parts = ["CASE"]
        if subject is not None:
            parts.append(self.scalar(subject, scope).text)
        for w in whens:
            _w, cond, _t, result = w.children
            test = (
                self.scalar(cond, scope).text
                if subject is not None
                else self.condition(cond, scope)
            )
            parts.append(f"WHEN {test} THEN {self.scalar(result, scope).text}")
        if default is not None:
            parts.append(f"ELSE {self.scalar(default, scope).text}")
        parts.append("END")
        return Sql("(" + " ".join(parts) + ")")


#: grammar rule (``adql.lark``) -> its translation, called as ``rule(translator, tree, scope)``
VALUE_RULES: dict[str, Callable[..., Value]] = {
    "integer": Values.integer,
    "decimal": Values.decimal,
    "hex_integer": Values.hex_integer,
    "string": Values.string,
    "null": Values.null,
    "column_reference": Values.column_reference,
    "negative": Values.negative,
    "unary": Values.unary_plus,
    "arithmetic": Values.arithmetic,
    "concatenation": Values.concatenation,
    "comparison": Values.comparison,
    "and_": Values.and_,
    "or_": Values.or_,
    "not_": Values.not_,
    "between": Values.between,
    "in_list": Values.in_list,
    "in_query": Values.in_query,
    "like": Values.like,
    "ilike": Values.like,
    "is_null": Values.is_null,
    "exists": Values.exists,
    "scalar_subquery": Values.scalar_subquery,
    "case": Values.case,
    "cast": Functions.cast,
    "count_star": Functions.count_star,
    "function_call": Functions.function_call,
}
