"""Aladin Lite from the platform itself, so that the sky views work offline.

ipyaladin's front end imports Aladin Lite from esm.sh when the page opens; at a telescope or
a data centre without internet that import fails and the view is an error box. The platform
ships the same Aladin Lite build (``hectornb/data/aladin-lite``, LGPL-3.0-or-later, served at
``hectornb/static/aladin-lite/aladin.js`` by every server that renders the apps), and
`aladin_widget` is ipyaladin's widget with that one import pointed there.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

#: The Aladin Lite build shipped in ``hectornb/data/aladin-lite``.
ALADIN_LITE_VERSION = "3.9.2-beta"
#: Where the servers of the platform serve it, under their base URL.
ALADIN_LITE_PATH = "hectornb/static/aladin-lite/aladin.js"

_CDN_IMPORT = re.compile(r'import\s*(\w+)\s*from\s*"https://esm\.sh/aladin-lite@([^"/]+)";')


def aladin_lite_dir() -> Path:
    """The folder holding ``aladin.js`` and its licence."""
    return Path(str(resources.files("hectornb").joinpath("data", "aladin-lite")))


def cdn_version(module: str) -> str:
    """The Aladin Lite version an ipyaladin front-end module imports from esm.sh."""
    found = _CDN_IMPORT.search(module)
    if found is None:
        raise RuntimeError(
            "ipyaladin's front end no longer imports Aladin Lite from esm.sh "
            "as hectornb expects: the sky views cannot be served offline"
        )
    return found.group(2)


def local_module(module: str) -> str:
    """``module`` (ipyaladin's front end) importing Aladin Lite from the page's own server.

    A module handed to anywidget runs from a ``blob:`` URL, against which no path resolves,
    so the import becomes a dynamic one of an absolute URL built in the page.
    """
    cdn_version(module)  # fails loudly if the import is not where it was
    base_url = (Path(__file__).parent / "base_url.js").read_text("utf-8")
    return (
        base_url
        + "\n"
        + _CDN_IMPORT.sub(lambda m: _LOCAL_IMPORT.replace("NAME", m.group(1)), module, count=1)
    )


# Aladin Lite takes a HiPS by absolute URL (or by an ID it looks up at CDS): a survey the
# platform serves, named by its path on the page's server, is made absolute in the page,
# whether it comes as a start option or later.
_LOCAL_IMPORT = f"""const NAME = (await import(new URL(baseUrl() + "{ALADIN_LITE_PATH}",
  window.location.href).href)).default;
{{
  const absolute = (survey) => (typeof survey === "string" && survey.startsWith("/"))
    ? new URL(survey, window.location.href).href : survey;
  const make = NAME.aladin;
  NAME.aladin = function (div, options) {{
    if (options?.survey) options = {{ ...options, survey: absolute(options.survey) }};
    const view = make.call(this, div, options);
    for (const name of ["setImageSurvey", "setBaseImageLayer", "setOverlayImageLayer"]) {{
      const set = view[name];
      if (set) view[name] = (survey, ...rest) => set.call(view, absolute(survey), ...rest);
    }}
    return view;
  }};
}}"""


@functools.cache
def aladin_class() -> type:
    """ipyaladin's ``Aladin`` widget, loading Aladin Lite from the platform's server."""
    from ipyaladin import Aladin

    module = str(Aladin._esm)  # anywidget holds the file's text

    class LocalAladin(Aladin):
        _esm = local_module(module)

    return LocalAladin


def aladin_widget(**kwargs):
    """An ipyaladin ``Aladin`` view (same arguments) whose Aladin Lite comes from the
    platform's server, not from a CDN.

    Aladin Lite reports each start to CDS unless told not to (``log``): off by default, as a
    page offline would fail that request.
    """
    kwargs.setdefault("log", False)
    return aladin_class()(**kwargs)
