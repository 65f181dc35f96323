"""Reduced spectra: 2dfdr-format products read and written as astropy objects.

Names load on first use (see `hectornb._lazy`).
"""

from .._lazy import lazy_names

__getattr__, __dir__, __all__ = lazy_names(
    __name__,
    {
        "ReducedFrame": ".io",
        "fibre_table": ".io",
        "read": ".io:read_2dfdr",
        "read_2dfdr": ".io",
        "write_2dfdr": ".io",
    },
)
