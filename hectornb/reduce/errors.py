"""Errors of reductions that name the frame and the reason, for people."""

from __future__ import annotations

from ..errors import Invalid


class DataError(Invalid):
    """A frame's data cannot be reduced (no traces, no arc lines, wrong fibre table).

    Running the step again gives the same answer, so the runner does not retry it.
    """


class StepError(RuntimeError):
    """A step's command did not complete. ``retry`` says whether a fresh attempt may succeed
    (the program crashed) or would end the same way (killed at its time limit or for its
    memory, or it finished without writing its product): the runner retries only the first.
    """

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry
