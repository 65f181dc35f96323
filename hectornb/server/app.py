"""``hectornb serve``: Voilà's standalone server with preheated kernels, the landing page and
the REST API.

Voilà preheats kernels (runs each app notebook before anyone asks for it) only in its
standalone application, not as a server extension; measured here that saves ~1.2 s of the
~3.7 s before a widget shows. So ``serve`` runs that application, with jupyter_server's
token authentication (``JUPYTER_TOKEN`` honoured), and adds the platform's handlers to it.
Inside JupyterLab or a JupyterHub user server the extension adds the same handlers instead.

Run by JupyterHub as a service (see `hectornb.server.hub`), the same command is the data
centre's one trusted server: it alone holds the database, the archive and the products, and
its Voilà kernels act for the person who opened each page.
"""

from __future__ import annotations

import os
import shutil
import threading

from jupyter_core.utils import run_sync
from jupyter_server.utils import url_path_join
from tornado.web import RedirectHandler
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler

from ..config import get_settings
from ..identity import is_hub_service
from . import access_log
from .apps import SERVICE_HANDLERS, TEMPLATE, USER_HEADER, AppNotebooks, notebooks_dir
from .handlers import handlers
from .page_request import PrivatePageRequestSocket, page_request_key

#: Seconds Voilà waits, after a page takes the pool's kernel, before starting the next one.
POOL_REFILL_DELAY = 4


class HectornbServer(Voila):
    """Voilà plus the hectornb landing page and REST API."""

    name = "hectornb"

    def init_handlers(self) -> list:
        # Ours first: tornado takes the first match, and "/" is the landing page here.
        landing = url_path_join(self.server_url, "hectornb/")
        root = (self.server_url, RedirectHandler, {"url": landing})
        # Under the Hub many people share this server: each page's kernel is its person's.
        # One's own server keeps Voilà's handlers (the token holder owns every kernel).
        ours = {
            **(SERVICE_HANDLERS if is_hub_service() else {}),
            RequestInfoSocketHandler: PrivatePageRequestSocket,
        }
        voila = [
            (rule[0], ours.get(rule[1], rule[1]), *rule[2:]) for rule in super().init_handlers()
        ]
        return [root, *handlers(self.server_url), *voila]

    def init_settings(self) -> dict:
        settings = super().init_settings()
        # Voilà's own contents manager for the notebooks folder, but trusting the apps
        self.contents_manager = AppNotebooks(parent=self)
        settings["contents_manager"] = self.contents_manager
        return settings

    def listen(self):
        access_log.install(self.app)
        super().listen()

    def stop(self):
        # Stopping (SIGTERM, Ctrl-C): the runners stop while the kernels go. The apps'
        # kernels keep nothing, so they are stopped at once rather than asked to.
        background = threading.Thread(target=stop_background, name="hectornb-stop")
        background.start()
        shutil.rmtree(self.connection_dir, ignore_errors=True)
        run_sync(self.kernel_manager.shutdown_all)(now=True)
        background.join(15)
        from ..db import engine

        engine.forget_gone_handles()  # the kernels killed: the database may stop at exit


def serve(port: int | None = None, open_browser: bool = True, demo: bool = False) -> int:
    """Start the platform and block until interrupted."""
    settings = get_settings()
    if demo:
        from ..demo import load_demo
        from ..identity import process_user

        for line in load_demo(process_user()):
            print(line, flush=True)
    else:
        # start the embedded database and migrate before any kernel races to do it
        from ..db import engine

        engine.pool(settings)
    from .startup import start_runners

    start_runners(settings)  # reduction requests (apps, API, CLI) and TAP jobs
    pool_size = settings.pool_size
    argv = [str(notebooks_dir())]
    if is_hub_service():
        from .hub import service_arguments

        # No preheated kernels under the Hub: a kernel acts for the person who opened its
        # page (their identity is in its environment from the start), whom a kernel started
        # before the page cannot know.
        argv += [
            *service_arguments(),
            "--VoilaConfiguration.preheat_kernel=False",
            "--VoilaConfiguration.allow_theme_override=NO",
            "--VoilaConfiguration.allow_template_override=NO",
        ]
    else:
        page_request_key()  # before any kernel starts: they inherit it
        argv += [
            f"--port={port or settings.port}",
            "--no-browser" if not open_browser else "--Voila.open_browser=True",
            "--Voila.auto_token=True",
            "--VoilaConfiguration.preheat_kernel=True",
            # A page taken, the pool's next kernel runs its notebook in this process; after
            # 1 s (Voilà's default) that work lands on the page's own loading (its scripts
            # and kernel connection wait on this server), so it waits for the page instead.
            f"--VoilaKernelManager.fill_delay={POOL_REFILL_DELAY}",
        ]
    argv += [
        # Kernels over IPC sockets beside their connection files, in Voilà's private (0700)
        # folder: over loopback TCP any local user could listen to every page's traffic.
        "--KernelManager.transport=ipc",
        f"--VoilaConfiguration.http_header_envs={USER_HEADER}",
        f"--VoilaConfiguration.template={TEMPLATE}",
        f"--VoilaConfiguration.default_pool_size={pool_size}",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.file_allowlist=.*\\.(png|jpg|gif|svg|css|js)",
        # A page gone (closed, reloaded) leaves its kernel with no connection: stopped once
        # idle that long. Open pages' kernels (connected) and the preheated ones stay.
        f"--MappingKernelManager.cull_idle_timeout={settings.page_kernel_grace}",
        f"--MappingKernelManager.cull_interval={max(5, settings.page_kernel_grace // 4)}",
        "--MappingKernelManager.cull_connected=False",
        "--VoilaConfiguration.multi_kernel_manager_class=hectornb.server.kernels.PageKernelManager",
    ]
    token = os.environ.get("JUPYTER_TOKEN")
    if token is not None and not is_hub_service():
        argv.append(f"--token={token}")
    HectornbServer.launch_instance(argv=argv)
    return 0


def stop_background() -> None:
    """Stop what runs beside the web server, in order, before the embedded database stops
    (at exit): the runners first, so that none of them meets a database going away."""
    from ..db import engine
    from ..reduce.runner import stop_runner
    from .tap_api import stop_tap_runner

    stop_runner()
    stop_tap_runner()
    engine.close_pools()
