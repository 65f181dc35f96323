"""Jupyter widgets of the platform's apps (usable in JupyterLab and as Voilà dashboards).

Each name is imported when first used, so that a page's kernel loads its own app only
(``from hectornb.widgets import tap_page`` does not import the Explore app's plotting).
"""

from .._lazy import lazy_names
from .registry import page_names

__getattr__, __dir__, __all__ = lazy_names(
    __name__,
    {
        "ClassifyApp": ".classify",
        "SpectrumExplorer": ".explore",
        "FibreSkyView": ".explore_sky",
        "ObslogApp": ".obslog",
        "ReduceApp": ".reduce",
        "SharedSkyView": ".sky",
        "TapApp": ".tap",
        **page_names(),  # each app's page (the registry declares them)
    },
)
