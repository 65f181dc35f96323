"""Reduced spectra: 2dfdr-format products read and written as astropy objects."""

from .io import ReducedFrame, read_2dfdr, write_2dfdr

read = read_2dfdr

__all__ = ["ReducedFrame", "read", "read_2dfdr", "write_2dfdr"]
