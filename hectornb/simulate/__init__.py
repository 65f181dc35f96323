"""Realistic raw frames with known truth, for tests, benchmarks and demos."""

from .night import line_list, simulate_calibrations, simulate_night

__all__ = ["line_list", "simulate_calibrations", "simulate_night"]
