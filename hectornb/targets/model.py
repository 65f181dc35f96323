"""What a target store holds and answers, whichever database keeps it.

The PostgreSQL store (`hectornb.targets.store`), the MongoDB store (`hectornb.targets.mongo`)
and a user's client of the data centre's service (`hectornb.targets.remote`) all keep the
`TargetStore` contract with these values, so the Classify app and the API never know which
one they talk to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from .. import errors
from .badclass import badclass as check_badclass
from .parse import TargetList

#: A target as every store gives it: its place in the file (``seq``), name, position (deg),
#: the file's line, and its current classification (the latest by anyone).
TARGET_FIELDS = (
    "seq",
    "name",
    "ra",
    "dec",
    "line",
    "badclass",
    "classified_by",
    "classified_at",
    "n_classifiers",
    "disagree",
)


class TargetStoreError(errors.Invalid):
    """A request the store refuses, with a message for the person who made it."""


# the platform's own kinds: no such list or target; not the list's owner
NotFound = errors.NotFound
Forbidden = errors.Forbidden


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``kept``/``dropped`` count classified targets on overwrite."""

    name: str
    n_targets: int
    replaced: bool
    kept: int = 0
    dropped: int = 0

    def summary(self) -> str:
        text = f"{self.name}: {self.n_targets} targets"
        if self.replaced:
            text += (
                f" (replaced; classifications kept for {self.kept} targets, "
                f"{self.dropped} dropped with their targets)"
            )
        return text


@dataclass(frozen=True)
class ListInfo:
    name: str
    owner: str
    n_targets: int
    n_classified: int
    created_at: dt.datetime
    replaced_at: dt.datetime | None
    source_filename: str | None


@dataclass(frozen=True)
class TargetFilter:
    """Which targets to show.

    ``badclass``: ``"all"``, ``"unclassified"``, ``">0"`` (any problem), ``"disagree"``
    (classifiers differ), or an integer 0–8. ``name``: substring (case-insensitive), or a
    POSIX regular expression when ``regex`` is true.
    """

    badclass: str | int = "all"
    name: str = ""
    regex: bool = False

    @classmethod
    def parse(cls, badclass: str | int | None, name: str | None = None, regex: bool = False):
        value: str | int = "all" if badclass in (None, "") else badclass
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int):
            check_badclass(value)
        elif value not in ("all", "unclassified", ">0", "disagree"):
            raise TargetStoreError(
                f"unknown classification filter {value!r}: use all, unclassified, >0, "
                "disagree or 0–8"
            )
        return cls(value, (name or "").strip(), bool(regex))


@dataclass(frozen=True)
class Page:
    total: int  # targets matching the filter
    offset: int
    targets: list[dict]

    @property
    def label(self) -> str:
        """``"101–200 of 200"``."""
        if not self.targets:
            return f"0 of {self.total}"
        return f"{self.offset + 1}–{self.offset + len(self.targets)} of {self.total}"


class TargetStore(Protocol):
    """What every target store does. Names are list names; ``user`` is the signed-in
    person (from the server, never from a form)."""

    def import_list(
        self, targets: TargetList, name: str, owner: str, overwrite: bool = False
    ) -> ImportResult: ...

    def lists(self) -> list[ListInfo]: ...

    def delete_list(self, name: str, user: str) -> None: ...

    def page(
        self, name: str, flt: TargetFilter | None = None, offset: int = 0, limit: int = ...
    ) -> Page: ...

    def locate(self, name: str, target: str, flt: TargetFilter | None = None) -> int: ...

    def classify(self, name: str, target: str, value: int | None, user: str) -> dict: ...

    def undo(self, name: str, user: str) -> dict | None: ...

    def progress(self, name: str, user: str) -> tuple[int, int]: ...

    def last_classified(self, name: str, user: str) -> str | None: ...

    def history(self, name: str, target: str) -> list[dict]: ...
