"""The five apps as Voilà pages, wherever the platform runs.

The app notebooks are package data (`notebooks_dir`), so a normal and an editable install find
them alike. Where they are served from depends on the deployment:

- ``hectornb serve`` (a laptop, the telescope, or the data centre's JupyterHub service) is a
  Voilà application rooted at the notebooks, with preheated kernels: ``voila/render/NAME``.
- A Jupyter server with the extension (JupyterLab, a Hub user server) roots Voilà at the
  user's own folder, where the notebooks are not; the extension serves them at
  ``hectornb/apps/NAME`` from the package instead.

Under the JupyterHub service every kernel runs as the service's Unix user on behalf of the
person who asked for the page. `SignedInVoilaHandler` puts that person's Hub name in a header
it sets itself (whatever the browser sent under that name is replaced), and Voilà hands the
header to the kernel, where `hectornb.identity.process_user` reads it.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from jupyter_server.services.contents.filemanager import FileContentsManager
from voila.tornado.handler import TornadoVoilaHandler

#: Apps shown on the landing page: (title, notebook, what it is for).
APPS = (
    (
        "Classify",
        "classify.ipynb",
        "Vet target lists: a BADCLASS 0–8 per target from the keyboard, with finder charts, "
        "catalogue overlays and hexabundle footprints.",
    ),
    (
        "Reduce",
        "reduce.ipynb",
        "Reduce raw 2dF/AAOmega/Hector frames on the Dask cluster (Pipeline as a Web Service): "
        "find data, choose options, follow your requests, download the products.",
    ),
    (
        "Explore",
        "explore.ipynb",
        "Explore reduced 2dF/AAOmega/Hector spectra: the field with every fibre, each "
        "fibre's spectrum with its variance, sky and lines at a redshift; PDF of them all.",
    ),
    (
        "Obslog",
        "obslog.ipynb",
        "The observing log: targets, stars, Hector tiles and their hexabundles, runs and the "
        "night log; every edit kept as a version; CSV, night reports, a REST API.",
    ),
    (
        "TAP",
        "tap.ipynb",
        "Query the catalogues in ADQL (this platform's TAP service or any other): browse "
        "the tables, run now or as a job, upload a table to cross-match, download results.",
    ),
)

#: The header that carries the signed-in user from the service to its Voilà kernels.
USER_HEADER = "X-Hectornb-User"
#: The same header as Voilà puts it in the kernel's environment (RFC 3875 style).
USER_HEADER_ENV = "HTTP_" + USER_HEADER.upper().replace("-", "_")

_APP_PATTERN = "(" + "|".join(nb.replace(".", r"\.") for _, nb, _ in APPS) + ")"


def notebooks_dir() -> Path:
    """The app notebooks: ``HECTORNB_NOTEBOOKS`` (a folder of one's own), else the package's."""
    env = os.environ.get("HECTORNB_NOTEBOOKS")
    if env:
        return Path(env)
    return Path(str(resources.files("hectornb").joinpath("notebooks")))


class SignedInVoilaHandler(TornadoVoilaHandler):
    """Voilà's page handler that tells the kernel who signed in (see the module's note)."""

    async def get(self, path=None):
        # @authenticated on the parent has not run yet: an anonymous request gets no header
        user = self.current_user
        self.request.headers.pop(USER_HEADER, None)
        if user is not None:
            self.request.headers[USER_HEADER] = user.username
        return await super().get(path)


class PackagedAppHandler(TornadoVoilaHandler):
    """Voilà's page handler for the packaged notebooks inside any Jupyter server."""

    _apps_contents: FileContentsManager | None = None

    @property
    def contents_manager(self) -> FileContentsManager:
        # Voilà reads the notebook through the contents manager; this one sees only the
        # apps, read from the package, whatever the server's own root folder is.
        if PackagedAppHandler._apps_contents is None:
            PackagedAppHandler._apps_contents = FileContentsManager(
                root_dir=str(notebooks_dir())
            )
        return PackagedAppHandler._apps_contents


def packaged_app_handlers(serverapp, base_url: str) -> list[tuple]:
    """``hectornb/apps/NAME.ipynb`` for a Jupyter server that loads the extension."""
    from jupyter_server.utils import url_path_join
    from voila.configuration import VoilaConfiguration
    from voila.paths import collect_template_paths

    configuration = VoilaConfiguration(parent=serverapp)
    options = {
        "config": serverapp.config,
        "template_paths": collect_template_paths(["voila", "nbconvert"], configuration.template),
        "voila_configuration": configuration,
    }
    return [(url_path_join(base_url, f"hectornb/apps/{_APP_PATTERN}"), PackagedAppHandler,
             options)]  # fmt: skip
