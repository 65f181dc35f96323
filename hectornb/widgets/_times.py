"""How the apps write times: always with their zone.

A request's times (asked, started, ended) are wall-clock times of the people who made it, in
Sydney time as PAWS shows them, named AEST or AEDT; observing times (a log entry, a frame) are
UT, and say so.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SYDNEY = ZoneInfo("Australia/Sydney")


def request_time(when: dt.datetime | None) -> str:
    """``2026-11-30 15:19 AEDT``: a request's time in Sydney, with its zone ("" for None)."""
    return when.astimezone(SYDNEY).strftime("%Y-%m-%d %H:%M %Z") if when else ""
