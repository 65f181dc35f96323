"""The common target list read at numpy speed: every line ``name,ra,dec`` in a plain form.

A survey's list is 10^5 lines that all look alike (``G000001,12 34 56.7890,-12 34 56.789``).
Here the bytes are read as an array: line ends and commas are found at once, each number's
digits are summed into an integer and divided by its power of ten (exactly what ``float()``
gives, as both are exact and the division is correctly rounded), and the sexagesimal
arithmetic is the line-by-line reader's, in the same order. Only plain lines are read here:
no quotes, no exponents, one kind of separator per field, names with no space at their
edges, every value valid and every name new. Anything else gives None, and
`hectornb.targets.parse.parse_target_text` reads the list line by line and names every
problem with its line.
"""

from __future__ import annotations

import re

import numpy as np

_NL, _CR, _COMMA, _QUOTE, _HASH = 10, 13, 44, 34, 35
_SPACE, _TAB, _COLON, _DOT, _PLUS, _MINUS = 32, 9, 58, 46, 43, 45
_EDGE_SPACE = re.compile(r"^\s|\s$", re.M)


def _lines(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of every line, without its ``\\n`` or ``\\r\\n``."""
    ends = np.flatnonzero(b == _NL)
    starts = np.r_[0, ends + 1]
    ends = np.r_[ends, b.size]
    if starts[-1] == b.size:  # the text ends with a line end: no last line
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (b[np.maximum(ends - 1, 0)] == _CR)
    return starts, ends - cr


def _spans(size: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A mask of the bytes in ``[lo, hi)`` spans that neither overlap nor touch; one byte
    of bookkeeping per byte of text (a survey's list is a few MB)."""
    mark = np.zeros(size + 1, np.int8)
    mark[lo] = 1
    mark[hi] = -1
    return np.cumsum(mark[:-1], dtype=np.int8) > 0


def _numbers(b: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Each field ``b[lo:hi]`` read as one decimal number or three sexagesimal parts.

    Returns (sexagesimal, a, b, c) per field, or None when a field is not plain: bytes
    other than digits, '.', spaces, tabs and ':'; a part with two dots, no digit or more
    than 15 digits; a count of parts other than 1 or 3; ':' other than as the two
    separators of parts with nothing else between them; a dot in hours, degrees or minutes;
    more than 3 digits of hours or degrees, 2 of minutes or 2 of whole seconds.
    """
    n = lo.size
    if (hi <= lo).any():
        return None
    inside = _spans(b.size, lo, hi)  # the fields' bytes, in order (small types throughout:
    begins = np.zeros(b.size, bool)  # a fresh process pays for every page it touches)
    begins[lo] = True
    ff = np.cumsum(begins[inside], dtype=np.int32) - 1  # field of every byte
    fb = b[inside]
    digit = (fb >= 48) & (fb <= 57)
    dot, colon = fb == _DOT, fb == _COLON
    space = (fb == _SPACE) | (fb == _TAB)
    if not (digit | dot | colon | space).all():
        return None
    # parts: runs of digits and dots within a field
    in_part = digit | dot
    same_field_before = np.r_[False, ff[1:] == ff[:-1]]
    part_start = in_part & ~(np.r_[False, in_part[:-1]] & same_field_before)
    nparts_field = np.bincount(ff[part_start], minlength=n)
    if not ((nparts_field == 1) | (nparts_field == 3)).all():
        return None
    sexa = nparts_field == 3
    # ':' only as the two separators of a sexagesimal field
    gap_colons = np.bincount(ff[colon], minlength=n)
    if ((gap_colons != 0) & (~sexa | (gap_colons != 2))).any():
        return None
    part = np.cumsum(part_start, dtype=np.int32) - 1
    # a ':' sits between two parts of its field, touching both ("12:30:40"); anything else
    # ("12 30::40", ":12:30 40", " : ") is left to the careful reader
    part_before = np.r_[False, in_part[:-1]] & same_field_before
    part_after = np.r_[in_part[1:], False] & np.r_[ff[1:] == ff[:-1], False]
    if (colon & ~(part_before & part_after)).any():
        return None
    total = int(part_start.sum())
    idx = np.flatnonzero(in_part).astype(np.int32)
    pid = part[idx]
    is_dot = dot[idx]
    dots = np.bincount(pid[is_dot], minlength=total)
    ndigits = np.bincount(pid[~is_dot], minlength=total)
    if (dots > 1).any() or (ndigits == 0).any() or (ndigits > 15).any():
        return None
    # each part's digits as one integer, divided by ten to the digits after its dot
    dot_at = np.full(total, np.iinfo(np.int32).max, dtype=np.int32)
    dot_at[pid[is_dot]] = idx[is_dot]
    d_idx, d_pid = idx[~is_dot], pid[~is_dot]
    frac = np.bincount(d_pid[d_idx > dot_at[d_pid]], minlength=total)
    first = np.r_[0, np.cumsum(ndigits)[:-1]]
    power = ndigits[d_pid] - 1 - (np.arange(d_pid.size) - first[d_pid])
    mantissa = np.bincount(d_pid, weights=(fb[d_idx] - 48) * 10.0**power, minlength=total)
    value = mantissa / 10.0**frac
    # the field's parts: one (decimal) or three (sexagesimal)
    p0 = np.r_[0, np.cumsum(nparts_field)[:-1]]
    p1, p2 = np.minimum(p0 + 1, total - 1), np.minimum(p0 + 2, total - 1)
    if (
        sexa
        & (
            (dots[p0] + dots[p1] > 0)
            | (ndigits[p0] > 3)
            | (ndigits[p1] > 2)
            | (ndigits[p2] - frac[p2] > 2)
            | (ndigits[p2] - frac[p2] < 1)
        )
    ).any():
        return None
    return sexa, value[p0], np.where(sexa, value[p1], 0.0), np.where(sexa, value[p2], 0.0)


#: Above this many bytes the careful reader reads the list: the arrays here take about 40
#: times the text, the careful reader about 11 times (a 64 MiB upload: 3 GB against 0.7 GB).
MAX_BYTES = 8 * 2**20


def fast_parse(text: str, max_name: int):
    """(names, ra, dec, line numbers, header line) of a list of plain lines; else None."""
    raw = text.encode("utf-8")
    if len(raw) > MAX_BYTES:
        return None
    b = np.frombuffer(raw, np.uint8)
    if (b == _QUOTE).any():
        return None
    # a carriage return only as part of "\r\n": the careful reader splits a file of lone
    # CRs into lines, and takes CRs anywhere else for what they are
    after_cr = np.flatnonzero(b == _CR) + 1
    if (after_cr >= b.size).any() or (b[after_cr[after_cr < b.size]] != _NL).any():
        return None
    starts, ends = _lines(b)
    if starts.size == 0:
        return None
    first_byte = b[np.minimum(starts, b.size - 1)]
    empty = ends == starts
    if ((first_byte == _SPACE) | (first_byte == _TAB))[~empty].any():
        return None  # indented lines: the careful reader
    data = ~empty & (first_byte != _HASH)
    numbers = np.flatnonzero(data) + 1
    starts, ends = starts[data], ends[data]
    if starts.size == 0:
        return None
    commas = np.flatnonzero(b == _COMMA)
    first_comma = np.searchsorted(commas, starts)
    if ((np.searchsorted(commas, ends) - first_comma) != 2).any():
        return None
    c1, c2 = commas[first_comma], commas[first_comma + 1]
    header = None
    line0 = raw[starts[0] : ends[0]].decode("utf-8", "replace").split(",")
    from .parse import _HEADER_DEC, _HEADER_RA  # the header rule is the careful reader's

    if _HEADER_RA.fullmatch(line0[1].strip()) and _HEADER_DEC.fullmatch(line0[2].strip()):
        header = int(numbers[0])
        numbers, starts, ends, c1, c2 = numbers[1:], starts[1:], ends[1:], c1[1:], c2[1:]
        if starts.size == 0:
            return None
    # Dec's sign, then the numbers of both fields (leading and trailing spacing allowed)
    dec_lo = c2 + 1
    while True:
        lead = (dec_lo < ends) & (
            (b[np.minimum(dec_lo, b.size - 1)] == _SPACE)
            | (b[np.minimum(dec_lo, b.size - 1)] == _TAB)
        )
        if not lead.any():
            break
        dec_lo = dec_lo + lead
    sign_byte = b[np.minimum(dec_lo, b.size - 1)]
    minus = (sign_byte == _MINUS) & (dec_lo < ends)
    dec_lo = dec_lo + (minus | ((sign_byte == _PLUS) & (dec_lo < ends)))
    # both fields of every line in one pass: RA, Dec, RA, Dec... in the order of the bytes
    both = _numbers(
        b, np.column_stack([c1 + 1, dec_lo]).ravel(), np.column_stack([c2, ends]).ravel()
    )
    if both is None:
        return None
    (ra_sexa, dec_sexa), (h, d), (m, dm), (s, ds) = ((x[0::2], x[1::2]) for x in both)
    with np.errstate(invalid="ignore"):
        if (ra_sexa & ((h >= 24) | (m >= 60) | (s >= 60))).any() or (~ra_sexa & ~(h < 360)).any():
            return None
        if (dec_sexa & ((dm >= 60) | (ds >= 60))).any():
            return None
    # the same arithmetic, in the same order, as the line-by-line reader
    ra_deg = np.where(ra_sexa, (h + m / 60.0 + s / 3600.0) * 15.0, h)
    dec_abs = np.where(dec_sexa, d + dm / 60.0 + ds / 3600.0, d)
    if (dec_abs > 90.0).any():
        return None
    # names: not empty, no spacing at either edge, not too long, each once; read as the
    # bytes before each line's first comma, that comma turned into a line end
    last = b[np.maximum(c1 - 1, 0)]
    if ((c1 == starts) | (last == _SPACE) | (last == _TAB) | (c1 - starts > max_name)).any():
        return None
    names_bytes = b.copy()
    names_bytes[c1] = _NL
    text_names = names_bytes[_spans(b.size, starts, c1 + 1)].tobytes().decode("utf-8")[:-1]
    if not text_names.isascii() and _EDGE_SPACE.search(text_names):
        return None  # a Unicode space the careful reader strips
    names = text_names.split("\n")
    if len(names) != starts.size or len(set(names)) != len(names):
        return None
    return names, ra_deg, np.where(minus, -dec_abs, dec_abs), numbers.astype(np.int32), header
