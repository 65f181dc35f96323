"""The built-in reduction engine (NumPy/SciPy/astropy), step by step; `runner` runs a
planned `Step` with it (the ``builtin`` engine of `hectornb.reduce.engines`)."""

from .extract import extract
from .pipeline import ArmCalibration, ObjectSpectra, calibrate_arm, raw_image, reduce_object
from .preprocess import Image, combine, preprocess
from .tramlines import TramlineError, TramlineMap, find_tramlines
from .wavelength import ArcError, WavelengthSolution, fit_arc

__all__ = [
    "ArcError",
    "ArmCalibration",
    "Image",
    "ObjectSpectra",
    "TramlineError",
    "TramlineMap",
    "WavelengthSolution",
    "calibrate_arm",
    "combine",
    "extract",
    "find_tramlines",
    "fit_arc",
    "preprocess",
    "raw_image",
    "reduce_object",
]
