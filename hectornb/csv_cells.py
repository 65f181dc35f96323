"""CSV that spreadsheets open as data: a cell that would start a formula is shown as text.

Excel, LibreOffice and Google Sheets run a cell starting with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or carriage return) as a formula, so a target named
``=HYPERLINK(...)`` in an exported list could act on the machine of whoever opens it. As
OWASP recommends, such cells get a leading apostrophe in the file; numbers such as ``-45.6``
stay numbers, and what the platform stores is never changed.
"""

from __future__ import annotations

import csv
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value):
    """``value``, with an apostrophe before text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(v) for v in row])


def writer(out, **kwargs) -> _SafeWriter:
    """A `csv.writer` whose rows go through `safe_cell`."""
    return _SafeWriter(out, **kwargs)
