"""Reading target lists: the survey's CSV rules, and every error with its line number.

The rules (the Hector target selector's help text):

- the file name ends with ``.csv`` or ``.txt``;
- three columns, in the order target, ra, dec; names are unique;
- RA/Dec in decimal degrees or sexagesimal, with ':' or ' ' as separators;
- lines starting with '#' and blank lines are ignored.

Files as people really write them are accepted: CRLF line endings, a UTF-8 byte-order mark,
spaces around fields, ``+`` signs, CSV quoting for names that contain commas, and an optional
header line such as ``name,ra,dec``. A file that breaks a rule is rejected whole.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

from ..errors import Invalid, quote_field
from .coords import CoordinateError, parse_dec, parse_ra

ALLOWED_SUFFIXES = (".csv", ".txt")
MAX_NAME_LENGTH = 200
_HEADER_RA = re.compile(r"ra(j2000|_?deg|_j2000)?|right[ _]ascension", re.I)
_HEADER_DEC = re.compile(r"dec(l|lination)?(j2000|_?deg|_j2000)?", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class LineError:
    """One problem in a target file. ``line`` is 1-based; 0 means the file as a whole."""

    line: int
    message: str

    def format(self, filename: str) -> str:
        return f"{filename}:{self.line}: {self.message}"


#: How many problems a rejection lists; the rest are counted (a file of 170,000 bad lines
#: would otherwise make an answer of 50 MB).
MAX_LISTED_ERRORS = 100


class TargetListError(Invalid):
    """A target file was rejected; ``errors`` holds the first `MAX_LISTED_ERRORS` problems
    found, in line order, and ``total`` how many there were."""

    def __init__(self, filename: str, errors: list[LineError], total: int | None = None):
        self.filename = filename
        self.errors = errors[:MAX_LISTED_ERRORS]
        self.total = max(total or 0, len(errors))
        first = errors[0].format(filename) if errors else filename
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        super().__init__(first + more)

    def lines(self) -> list[str]:
        out = [e.format(self.filename) for e in self.errors]
        if self.total > len(self.errors):
            out.append(f"{self.filename}: … and {self.total - len(self.errors)} more problems")
        return out


@dataclass
class TargetList:
    """A validated target list.

    Attributes
    ----------
    filename : str
        Name of the file it came from.
    names : list of str
        Target names (NFC-normalised, stripped), unique.
    ra, dec : numpy.ndarray
        J2000 coordinates in degrees.
    lines : numpy.ndarray
        Line number of each target in the file.
    source : str or None
        The file's text, kept so that a client of the data centre's service can send the
        very file (its line numbers included) for the service to store.
    """

    filename: str
    names: list[str]
    ra: np.ndarray
    dec: np.ndarray
    lines: np.ndarray
    header_line: int | None = field(default=None)
    source: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def stem(self) -> str:
        """The default list name: the file name without its suffix."""
        return Path(self.filename).stem

    def to_table(self) -> Table:
        """An astropy Table with ``name``, ``ra`` and ``dec`` (deg) and ``line`` columns."""
        import astropy.units as u
        from astropy.table import Table

        return Table(
            {
                "name": self.names,
                "ra": self.ra * u.deg,
                "dec": self.dec * u.deg,
                "line": self.lines,
            }
        )


def _decode(data: bytes) -> tuple[str | None, list[LineError]]:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return None, [LineError(line, "binary data (a NUL byte): a target list must be text")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        return None, [LineError(line, f"not UTF-8 text (byte 0x{bad}); save the file as UTF-8")]


def _split_lines(text: str) -> list[str]:
    # Only \n, \r\n and a lone \r end a line: str.splitlines would also split on form feeds
    # and Unicode separators and so report wrong line numbers.
    if "\n" not in text and "\r" in text:
        return text.split("\r")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _fields(line: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line], skipinitialspace=True))
    return line.split(",")


def _check_name(raw: str, normalise: bool, controls: bool) -> tuple[str | None, str | None]:
    name = raw.strip()
    if normalise:
        name = unicodedata.normalize("NFC", name)
    if not name:
        return None, "missing target name"
    if controls and _CONTROL.search(name):
        return None, f"target name {quote_field(name)} contains control characters"
    if len(name) > MAX_NAME_LENGTH:
        return None, f"target name longer than {MAX_NAME_LENGTH} characters"
    return name, None


def _read_plain(text: str) -> dict | None:
    """A list whose every line is plain, read at numpy speed (`fastparse`); else None."""
    from .fastparse import fast_parse

    found = fast_parse(text, MAX_NAME_LENGTH)
    if found is None:
        return None
    names, ra, dec, linenos, header = found
    return {"names": names, "ra": ra, "dec": dec, "lines": linenos, "header_line": header}


class _Problems(list):
    """The problems found: the first `MAX_LISTED_ERRORS` kept, every one counted."""

    total = 0

    def append(self, problem: LineError) -> None:
        self.total += 1
        if len(self) < MAX_LISTED_ERRORS:
            super().append(problem)


def parse_target_text(text: str, filename: str = "targets.csv") -> TargetList:
    """Validate the text of a target list (see the module docstring for the rules)."""
    errors = _Problems()
    names: list[str] = []
    ras: list[float] = []
    decs: list[float] = []
    linenos: list[int] = []
    first_seen: dict[str, int] = {}
    header_line = None
    data_lines = 0
    # Checked once for the whole text, so the common clean file skips per-name work.
    normalise = not unicodedata.is_normalized("NFC", text)
    # line ends aside ("\n", "\r\n", or lone "\r" in a file without "\n"), a CR is a control
    # character like any other: in a name it would end a row of the database's COPY
    ends_removed = (
        text.replace("\r\n", "").replace("\n", "") if "\n" in text else text.replace("\r", "")
    )
    controls = _CONTROL.search(ends_removed) is not None
    if not normalise and not controls:
        fast = _read_plain(text)
        if fast is not None:
            return TargetList(filename=filename, source=text, **fast)

    for lineno, line in enumerate(_split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        data_lines += 1
        try:
            parts = _fields(line)
        except csv.Error as exc:
            errors.append(LineError(lineno, f"unreadable CSV: {exc}"))
            continue
        if len(parts) != 3:
            errors.append(
                LineError(
                    lineno,
                    f"expected 3 columns (target, ra, dec), found {len(parts)}",
                )
            )
            continue
        raw_name, raw_ra, raw_dec = parts
        if (
            data_lines == 1
            and _HEADER_RA.fullmatch(raw_ra.strip())
            and _HEADER_DEC.fullmatch(raw_dec.strip())
        ):
            header_line = lineno
            continue
        name, problem = _check_name(raw_name, normalise, controls)
        if problem:
            errors.append(LineError(lineno, problem))
        try:
            ra = parse_ra(raw_ra)
        except CoordinateError as exc:
            errors.append(LineError(lineno, str(exc)))
            ra = None
        try:
            dec = parse_dec(raw_dec)
        except CoordinateError as exc:
            errors.append(LineError(lineno, str(exc)))
            dec = None
        if name is not None:
            if name in first_seen:
                errors.append(
                    LineError(
                        lineno,
                        f"duplicate target name {quote_field(name)} (first on line "
                        f"{first_seen[name]})",
                    )
                )
                continue
            first_seen[name] = lineno
        if name is not None and ra is not None and dec is not None:
            names.append(name)
            ras.append(ra)
            decs.append(dec)
            linenos.append(lineno)

    if not errors and not names:
        what = "is empty" if not text.strip() else "holds only comments, blank lines or a header"
        errors.append(LineError(0, f"no targets: the file {what}"))
    if errors:
        raise TargetListError(filename, errors, errors.total)
    return TargetList(
        filename=filename,
        names=names,
        ra=np.asarray(ras, dtype=float),
        dec=np.asarray(decs, dtype=float),
        lines=np.asarray(linenos, dtype=np.int32),
        header_line=header_line,
        source=text,
    )


def parse_target_bytes(data: bytes, filename: str, max_bytes: int | None = None) -> TargetList:
    """Validate an uploaded target file (its bytes and the name it was uploaded under)."""
    if not filename.lower().endswith(ALLOWED_SUFFIXES):
        raise TargetListError(
            filename, [LineError(0, "the file name must end with '.csv' or '.txt'")]
        )
    if max_bytes is not None and len(data) > max_bytes:
        raise TargetListError(
            filename,
            [LineError(0, f"the file is {len(data):,} bytes; the limit is {max_bytes:,}")],
        )
    text, errors = _decode(data)
    if text is None:
        raise TargetListError(filename, errors)
    return parse_target_text(text, filename)


def read_target_list(path: str | Path, max_bytes: int | None = None) -> TargetList:
    """Read and validate a target list file.

    Raises
    ------
    TargetListError
        With every problem found and its line number; nothing is returned.
    """
    path = Path(path)
    if not path.name.lower().endswith(ALLOWED_SUFFIXES):
        raise TargetListError(
            str(path), [LineError(0, "the file name must end with '.csv' or '.txt'")]
        )
    return parse_target_bytes(path.read_bytes(), str(path), max_bytes)
