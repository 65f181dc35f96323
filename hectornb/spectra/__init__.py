"""Reduced spectra: 2dfdr-format products read and written as astropy objects."""

from .io import ReducedFrame, fibre_table, read_2dfdr, write_2dfdr

read = read_2dfdr

__all__ = ["ReducedFrame", "fibre_table", "read", "read_2dfdr", "write_2dfdr"]
