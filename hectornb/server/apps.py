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

from importlib import resources
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import LargeFileManager
from jupyter_server.services.kernels.handlers import KernelHandler
from nbclient.util import ensure_async
from tornado import web
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from ..config import get_settings
from ..widgets.registry import APPS


class AppNotebooks(LargeFileManager):
    """The app notebooks' folder as Voilà reads it: the platform's own notebooks, trusted.

    Jupyter trusts a notebook it has signed itself; these come signed by no one (they are
    package data), so every page view logged "Notebook … is not trusted". They hold code and
    no outputs, and only the operator chooses the folder (``HECTORNB_NOTEBOOKS``).
    """

    def mark_trusted_cells(self, nb, path: str = "") -> None:
        self.notary.mark_cells(nb, True)


#: The apps' Voilà template: Voilà's lab template without the CDN links (installed in the
#: Jupyter data folder, ``share/jupyter/voila/templates/hectornb``).
TEMPLATE = "hectornb"

#: The header that carries the signed-in user from the service to its Voilà kernels.
USER_HEADER = "X-Hectornb-User"
#: The same header as Voilà puts it in the kernel's environment (RFC 3875 style).
USER_HEADER_ENV = "HTTP_" + USER_HEADER.upper().replace("-", "_")

_APP_PATTERN = "(" + "|".join(a.notebook_name.replace(".", r"\.") for a in APPS) + ")"


def notebooks_dir() -> Path:
    """The app notebooks: ``HECTORNB_NOTEBOOKS`` (a folder of one's own), else the package's."""
    from ..config import get_settings

    own = get_settings().notebooks
    return own if own is not None else Path(str(resources.files("hectornb").joinpath("notebooks")))


#: Each app kernel's person (kernel id -> user name): a page's kernel answers only them.
KERNEL_OWNERS: dict[str, str] = {}


class _PageKernels:
    """The kernel manager as one signed-in person's page uses it: every kernel it hands the
    page (a preheated one, or one started for it) is written down as theirs."""

    def __init__(self, manager, user: str) -> None:
        self._manager, self._user = manager, user

    def __getattr__(self, name: str):
        return getattr(self._manager, name)

    def _own(self, kernel_id: str) -> None:
        if len(KERNEL_OWNERS) > 1000:  # forget the kernels that are gone (culled, closed)
            alive = set(self._manager.list_kernel_ids())
            for gone in [k for k in KERNEL_OWNERS if k not in alive]:
                del KERNEL_OWNERS[gone]
        KERNEL_OWNERS[kernel_id] = self._user

    async def get_rendered_notebook(self, *args, **kwargs):
        render_task, rendered, kernel_id = await self._manager.get_rendered_notebook(
            *args, **kwargs
        )
        self._own(kernel_id)
        return render_task, rendered, kernel_id

    async def start_kernel(self, *args, **kwargs):
        kernel_id = await ensure_async(self._manager.start_kernel(*args, **kwargs))
        self._own(kernel_id)
        return kernel_id


_STARTING: dict[str, int] = {}  # pages whose kernel is being started, by person


class SignedInVoilaHandler(TornadoVoilaHandler):
    """Voilà's page handler that tells the kernel who signed in (see the module's note) and
    records the page's kernel as theirs."""

    _page_user: str | None = None

    @property
    def kernel_manager(self):
        manager = self.settings["kernel_manager"]
        return _PageKernels(manager, self._page_user) if self._page_user else manager

    async def get(self, path=None):
        # @authenticated on the parent has not run yet: an anonymous request gets no header
        user = self.current_user
        self.request.headers.pop(USER_HEADER, None)
        if user is None:
            return await super().get(path)
        self.request.headers[USER_HEADER] = self._page_user = user.username
        await self._make_room(user.username)
        _STARTING[user.username] = _STARTING.get(user.username, 0) + 1
        try:
            return await super().get(path)
        finally:
            _STARTING[user.username] -= 1

    async def _make_room(self, name: str) -> None:
        """Keep each person, and everyone together, within their number of app kernels
        (about 300 MB each): a person's abandoned kernels (no page connected: a reload, a
        closed tab) are stopped first, oldest first; beyond that the page is refused."""
        settings = get_settings()
        manager = self.settings["kernel_manager"]
        alive = set(manager.list_kernel_ids())
        mine = [k for k, owner in KERNEL_OWNERS.items() if owner == name and k in alive]
        cap = settings.app_kernels_per_user
        connections = getattr(manager, "_kernel_connections", {})
        for kernel_id in [k for k in mine if not connections.get(k)]:
            if len(mine) + _STARTING.get(name, 0) < cap:
                break
            await ensure_async(manager.shutdown_kernel(kernel_id))
            mine.remove(kernel_id)
            alive.discard(kernel_id)
        if len(mine) + _STARTING.get(name, 0) >= cap:
            raise web.HTTPError(
                429,
                f"you have {len(mine)} apps open, the most one person "
                "may (HECTORNB_APP_KERNELS_PER_USER): close one first",
            )
        if len(alive) + sum(_STARTING.values()) >= settings.app_kernels:
            raise web.HTTPError(
                503,
                "the service has as many apps open as it may "
                "(HECTORNB_APP_KERNELS): try again in a while",
            )


class _OwnKernelOnly:
    """A kernel route that answers only the person whose page the kernel serves: another
    signed-in user who learnt a kernel's id can neither talk to it nor stop it."""

    def check_owner(self, kernel_id: str) -> None:
        user = self.current_user
        if user is None or KERNEL_OWNERS.get(kernel_id) != user.username:
            raise web.HTTPError(404, f"no kernel {kernel_id} of yours")


#: The kernel websocket protocol the apps' pages speak (JupyterLab's services 7).
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


class OwnKernelWebsocketHandler(_OwnKernelOnly, VoilaKernelWebsocketHandler):
    async def pre_get(self):
        self.check_owner(self.kernel_id)
        # Voilà reads every binary message going out in the v1 framing: a client on the
        # legacy protocol could make it parse garbage lengths and freeze the whole service
        offered = {
            p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")
        }
        if V1_PROTOCOL not in offered:
            raise web.HTTPError(400, f"only the {V1_PROTOCOL} protocol is spoken here")
        return await super().pre_get()


class _OwnKernelRoute(_OwnKernelOnly):
    """A kernel's REST route (its id in the path): checked once signed in."""

    async def prepare(self):
        await super().prepare()
        self.check_owner(self.path_kwargs.get("kernel_id") or self.path_args[0])


class OwnKernelHandler(_OwnKernelRoute, KernelHandler):
    pass


class OwnKernelShutdownHandler(_OwnKernelRoute, VoilaShutdownKernelHandler):
    pass


#: Voilà's handlers the service replaces with its own (see `HectornbServer.init_handlers`).
SERVICE_HANDLERS = {
    TornadoVoilaHandler: SignedInVoilaHandler,
    VoilaKernelWebsocketHandler: OwnKernelWebsocketHandler,
    KernelHandler: OwnKernelHandler,
    VoilaShutdownKernelHandler: OwnKernelShutdownHandler,
}


class PackagedAppHandler(TornadoVoilaHandler):
    """Voilà's page handler for the packaged notebooks inside any Jupyter server."""

    _apps_contents: AppNotebooks | None = None

    @property
    def contents_manager(self) -> AppNotebooks:
        # Voilà reads the notebook through the contents manager; this one sees only the
        # apps, read from the package, whatever the server's own root folder is.
        if PackagedAppHandler._apps_contents is None:
            PackagedAppHandler._apps_contents = AppNotebooks(root_dir=str(notebooks_dir()))
        return PackagedAppHandler._apps_contents


def _bundled_mathjax(page_config: dict, **_kwargs) -> dict:
    # With no MathJax URL (Voilà's own server has none) the page typesets with the MathJax
    # bundled in Voilà; inside another Jupyter server it would fetch MathJax from cdnjs.
    return {**page_config, "fullMathjaxUrl": None, "mathjaxConfig": None}


def packaged_app_handlers(serverapp, base_url: str) -> list[tuple]:
    """``hectornb/apps/NAME.ipynb`` for a Jupyter server that loads the extension."""
    from jupyter_server.utils import url_path_join
    from voila.configuration import VoilaConfiguration
    from voila.paths import collect_template_paths

    configuration = VoilaConfiguration(
        parent=serverapp, template=TEMPLATE, page_config_hook=_bundled_mathjax
    )
    options = {
        "config": serverapp.config,
        "template_paths": collect_template_paths(["voila", "nbconvert"], TEMPLATE),
        "voila_configuration": configuration,
    }
    return [(url_path_join(base_url, f"hectornb/apps/{_APP_PATTERN}"), PackagedAppHandler, options)]
