"""Jupyter widgets of the platform's apps (usable in JupyterLab and as Voilà dashboards)."""

from .classify import ClassifyApp
from .explore import SpectrumExplorer
from .explore_sky import FibreSkyView, explore_page
from .obslog import ObslogApp, obslog_page
from .reduce import ReduceApp, reduce_page
from .sky import SharedSkyView, classify_page
from .tap import TapApp, tap_page

__all__ = [
    "ClassifyApp",
    "FibreSkyView",
    "ObslogApp",
    "ReduceApp",
    "SharedSkyView",
    "SpectrumExplorer",
    "TapApp",
    "classify_page",
    "explore_page",
    "obslog_page",
    "reduce_page",
    "tap_page",
]
