"""Reductions: the archive index, planning, the engines and the Dask runner.

Names load on first use (see `hectornb._lazy`): the archive index needs pandas, which an app
that only submits requests never does.
"""

from .._lazy import lazy_names

__getattr__, __dir__, __all__ = lazy_names(
    __name__,
    {
        "ReductionGroup": ".plan",
        "describe_plan": ".plan",
        "plan_night": ".plan",
        "index_directory": ".archive",
        "query_frames": ".archive",
        "store_index": ".archive",
    },
)
