"""The built-in reduction engine (NumPy/SciPy/astropy), step by step."""

from .extract import extract
from .preprocess import Image, combine, preprocess
from .tramlines import TramlineError, TramlineMap, find_tramlines

__all__ = [
    "Image",
    "TramlineError",
    "TramlineMap",
    "combine",
    "extract",
    "find_tramlines",
    "preprocess",
]
