"""Chromium for the browser tests and benchmarks: Debian's build driven by Playwright, with
the internet cut off (`offline`), as at a telescope: every asset of a page must come from the
platform itself.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--enable-unsafe-swiftshader",
]


#: An in-page clock for the Classify app: keydown (capture) -> the mutation that shows the
#: stored class on the card; the latencies (ms) collect in ``window.__lat``.
KEY_CLOCK_JS = """() => {
  window.__lat = [];
  let t0 = null;
  document.addEventListener('keydown', () => { t0 = performance.now(); }, true);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.attributeName === 'data-badclass' && t0 !== null) {
        window.__lat.push(performance.now() - t0); t0 = null;
      }
    }
  }).observe(document.querySelector('[data-testid=grid]'),
             {attributes: true, subtree: true, attributeFilter: ['data-badclass']});
}"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright, offline_hosts: bool = False):
    """Chromium. With ``offline_hosts``, it resolves no host name but loopback's, so it is
    offline as at a telescope while keeping its HTTP cache, which Playwright's request
    routing (`offline`) turns off: for timing pages as a returning user sees them."""
    args = list(CHROMIUM_ARGS)
    if offline_hosts:
        args.append("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1")
    return playwright.chromium.launch(executable_path=chromium_path(), args=args)


def offline(page) -> None:
    """Refuse every request ``page`` makes beyond loopback, and keep account of what failed.

    ``page.blocked`` lists the URLs refused; ``page.failed`` every request that failed
    (refused or not); ``page.console_errors`` the console's errors and uncaught exceptions.
    """
    page.blocked, page.failed, page.console_errors = [], [], []

    def route(r) -> None:
        url = r.request.url
        if url.startswith(LOCAL):
            r.continue_()
        else:
            page.blocked.append(url)
            r.abort("internetdisconnected")

    page.route("**/*", route)
    page.on("requestfailed", lambda r: page.failed.append(f"{r.url} ({r.failure})"))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))


LOCAL = (
    "http://127.0.0.1",
    "http://localhost",
    "ws://127.0.0.1",
    "ws://localhost",
    "data:",
    "blob:",
)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def benchmark_server(home):
    """``hectornb serve`` for a benchmark: a free port, token ``bench``, no apps preheated,
    reductions left to an external runner; yields its base URL once it answers, and stops
    it afterwards."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "JUPYTER_TOKEN": "bench",
        "HECTORNB_POOL_SIZE": "1",
        "HECTORNB_RUNNER": "external",
    }
    proc, base = serve_platform(env, port, Path(home) / "serve.log", apps=())
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def serve_platform(env: dict, port: int, log, apps=("classify.ipynb",), timeout: float = 120):
    """Start ``hectornb serve`` as a user would and wait until every app's kernel pool is
    filled. Returns the process and the base URL; the server's output goes to ``log``."""
    import subprocess
    import sys
    import time

    log = Path(log)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hectornb.cli", "serve", "--no-browser", f"--port={port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hectornb serve exited:\n{log.read_text()}")
        text = log.read_text()
        if all(f"Kernel pool of {app} is filled" in text for app in apps) and _answers(
            f"http://127.0.0.1:{port}/hectornb/tap/availability"
        ):
            return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"hectornb serve did not start within {timeout:.0f} s:\n{log.read_text()}")


@contextlib.contextmanager
def runner_process(env: dict):
    """A ``hectornb reduce runner`` service in its own process group, SIGKILLed (with its
    Dask workers) when the block ends: a server killed mid-request."""
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hectornb"), "reduce", "runner"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
