"""The built-in reduction engine (NumPy/SciPy/astropy), step by step."""

from .extract import extract
from .preprocess import Image, combine, preprocess
from .tramlines import TramlineError, TramlineMap, find_tramlines
from .wavelength import ArcError, WavelengthSolution, fit_arc

__all__ = [
    "ArcError",
    "Image",
    "TramlineError",
    "TramlineMap",
    "WavelengthSolution",
    "combine",
    "extract",
    "find_tramlines",
    "fit_arc",
    "preprocess",
]
