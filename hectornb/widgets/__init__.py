"""Jupyter widgets of the platform's apps (usable in JupyterLab and as Voilà dashboards)."""

from .classify import ClassifyApp
from .sky import SharedSkyView, classify_page

__all__ = ["ClassifyApp", "SharedSkyView", "classify_page"]
