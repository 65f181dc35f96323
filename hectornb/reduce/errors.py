"""Errors of reductions that name the frame and the reason, for people."""

from __future__ import annotations

from ..errors import Invalid


class DataError(Invalid):
    """A frame's data cannot be reduced (no traces, no arc lines, wrong fibre table).

    Running the step again gives the same answer, so the runner does not retry it.
    """
