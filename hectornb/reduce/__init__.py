"""Reductions: the archive index, planning, and (to come) engines and the Dask runner."""

from .archive import index_directory, query_frames, store_index
from .plan import ReductionGroup, describe_plan, plan_night

__all__ = [
    "ReductionGroup",
    "describe_plan",
    "index_directory",
    "plan_night",
    "query_frames",
    "store_index",
]
