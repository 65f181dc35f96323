"""Jupyter widgets of the platform's apps (usable in JupyterLab and as Voilà dashboards)."""

from .classify import ClassifyApp
from .reduce import ReduceApp, reduce_page
from .sky import SharedSkyView, classify_page

__all__ = ["ClassifyApp", "ReduceApp", "SharedSkyView", "classify_page", "reduce_page"]
