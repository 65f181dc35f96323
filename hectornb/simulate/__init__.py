"""Realistic raw frames with known truth, for tests, benchmarks and demos."""

from .night import simulate_night

__all__ = ["simulate_night"]
