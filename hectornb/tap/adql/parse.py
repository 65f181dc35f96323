"""Reading ADQL: the lark grammar (``adql.lark``, beside this module) and the parse tree.

Everything the translator knows of a query comes from this tree, never from the query text,
so every error it raises can say where in the ADQL the problem is; the helpers here read
identifiers as ADQL means them (regular ones fold to lower case, delimited ones do not).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ...errors import Invalid


class ADQLError(Invalid):
    """A query that cannot run, with where in the ADQL text the problem is (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message, self.line, self.column = message, line, column
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(message + where)

    @classmethod
    def at(cls, message: str, node: Tree | Token | None) -> ADQLError:
        """The error placed where ``node`` starts, so that the user can find the culprit."""
        return cls(message, *position(node))


@cache
def parser() -> Lark:
    """The LALR parser, built once: building it costs far more than a parse."""
    grammar = resources.files(__package__).joinpath("adql.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(adql: str) -> Tree:
    """The parse tree of an ADQL query, or an `ADQLError` at the offending place."""
    try:
        return parser().parse(adql)
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ADQLError("the query ends too early", exc.line, exc.column) from None
        raise ADQLError(f"syntax error at {str(tok)!r}", tok.line, tok.column) from None
    except UnexpectedCharacters as exc:
        raise ADQLError(
            f"syntax error at {adql[exc.pos_in_stream]!r}", exc.line, exc.column
        ) from None
    except (UnexpectedEOF, UnexpectedInput) as exc:
        raise ADQLError("syntax error", getattr(exc, "line", None), None) from None


def position(node: Tree | Token | None) -> tuple[int | None, int | None]:
    """(line, column) where ``node`` starts; (None, None) for a node made without one."""
    if isinstance(node, Token):
        return node.line, node.column
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    return None, None


def identifier(tok: Token) -> tuple[str, bool]:
    """(name, delimited) of an identifier token; regular identifiers fold to lower case."""
    text = str(tok)
    if tok.type == "DELIMITED_IDENTIFIER":
        return text[1:-1].replace('""', '"'), True
    return text.lower(), False


def dotted_parts(tree: Tree) -> list[Token]:
    """The identifier tokens of a dotted name (``schema.table.column``), first to last."""
    out: list[Token] = []
    node: Tree | Token | None = tree
    while isinstance(node, Tree) and node.data == "dotted":
        *rest, last = node.children
        out.insert(0, last)
        node = rest[0] if rest else None
    if isinstance(node, Token):
        out.insert(0, node)
    return out
