"""Realistic raw frames with known truth, for tests, benchmarks and demos."""

from ..instrument import line_list
from .night import galaxy_continuum_ratios, simulate_calibrations, simulate_night

__all__ = [
    "galaxy_continuum_ratios",
    "line_list",
    "simulate_calibrations",
    "simulate_night",
]
