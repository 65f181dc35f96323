"""App kernels and their memory: one idle kernel per app, and what 25 page visits leave.

    .venv/bin/python benchmarks/bench_kernels.py [--visits 25]

Two ``hectornb serve`` side by side, both with one preheated kernel per app:

- the platform as it is (a closed page's kernel stopped once idle
  ``HECTORNB_PAGE_KERNEL_GRACE`` = 45 s);
- the reference: kernels kept until an hour's idleness, as Voilà's culler was set before.

For each app, the resident memory (RSS and USS) of the kernel behind an open, idle page
(goal: RSS <= 150 MB). Then ``--visits`` page views (the five apps in turn, each page closed
once shown, as a user moving between apps), and after the grace period the kernels left and
the memory of the whole server (every process under it). Goal: the kernels left are the
preheated pool and the pages still open (none).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.harness import launch, offline, serve_platform  # noqa: E402

APPS = {
    "classify": '[data-testid="classify"][data-ready="true"]',
    "reduce": '[data-testid="reduce"] .hnb-user',
    "explore": '[data-testid="explore"][data-ready="true"]',
    "obslog": '[data-testid="obslog"][data-ready="true"]',
    "tap": '[data-testid="tap"] .hnb-user',
}
MB = 1024 * 1024


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home: Path, grace: int):
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "HECTORNB_HOME": str(home),
        "JUPYTER_TOKEN": token,
        "HECTORNB_POOL_SIZE": "1",
        "HECTORNB_PAGE_KERNEL_GRACE": str(grace),
    }
    env.pop("HECTORNB_DATABASE_URL", None)
    import subprocess

    # the demo data, as ./dev.sh demo has it: target lists, a night, its log, catalogues
    subprocess.run(
        [sys.executable, "-m", "hectornb.cli", "demo"], env=env, check=True, capture_output=True
    )
    proc, base = serve_platform(
        env, _port(), home / "serve.log", apps=tuple(f"{a}.ipynb" for a in APPS), timeout=300
    )
    return proc, base, token


def kernels(server: psutil.Process) -> int:
    """The server's kernel processes (Voilà lists no kernels over HTTP)."""
    count = 0
    for child in server.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            count += any("ipykernel_launcher" in part for part in child.cmdline())
    return count


def kernel_process(server: psutil.Process, kernel_id: str) -> psutil.Process | None:
    for child in server.children(recursive=True):
        try:
            if any(kernel_id in part for part in child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def tree_rss(server: psutil.Process) -> float:
    total = 0
    for p in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a process gone meanwhile
            total += p.memory_info().rss
    return total / MB


def idle_kernels(browser, base: str, token: str, server: psutil.Process) -> dict:
    import re

    out = {}
    for app, ready in APPS.items():
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        offline(page)
        page.goto(f"{base}/voila/render/{app}.ipynb?token={token}")
        page.wait_for_selector(ready, timeout=120_000)
        page.wait_for_timeout(4000)  # idle: catalogues, plots and the sky view drawn
        kernel = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content()).group(1)
        proc = kernel_process(server, kernel)
        info = proc.memory_full_info()
        out[app] = (info.rss / MB, info.uss / MB)
        page.close()
    return out


def visit(browser, base: str, token: str, visits: int) -> None:
    apps = list(APPS)
    for k in range(visits):
        app = apps[k % len(apps)]
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        offline(page)
        page.goto(f"{base}/voila/render/{app}.ipynb?token={token}")
        page.wait_for_selector(APPS[app], timeout=120_000)
        page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=25)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for label, grace in (("platform", 45), ("reference (1 h)", 3600)):
            home = Path(tmp) / label.split()[0]
            home.mkdir()
            proc, base, token = start(home, grace)
            server = psutil.Process(proc.pid)
            try:
                with sync_playwright() as p:
                    browser = launch(p)
                    before = kernels(server)  # the preheated pool
                    if grace < 600:
                        idle = idle_kernels(browser, base, token, server)
                        time.sleep(grace + grace // 4 + 5)  # those pages' kernels go
                    t0 = time.monotonic()
                    visit(browser, base, token, args.visits)
                    took = time.monotonic() - t0
                    browser.close()
                # what is left once a closed page's kernel may have gone (the reference
                # would keep them an hour: it is read as soon)
                time.sleep(grace + grace // 4 + 5 if grace < 600 else 20)
                runs[label] = {
                    "idle": idle if grace < 600 else {},
                    "pool": before,
                    "left": kernels(server),
                    "rss": tree_rss(server),
                    "took": took,
                }
            finally:
                proc.terminate()
                proc.wait(60)
    print("Idle app kernel, page open (goal: RSS <= 150 MB)")
    for app, (rss, uss) in runs["platform"]["idle"].items():
        print(f"  {app:9s} RSS {rss:6.0f} MB   USS {uss:6.0f} MB")
    print(f"\nAfter {args.visits} page views, each page closed (kernels, whole server's RSS)")
    for label, r in runs.items():
        print(
            f"  {label:16s} pool {r['pool']}, left {r['left']:3d} kernels, "
            f"{r['rss']:7.0f} MB   ({r['took']:.0f} s of visits)"
        )
    ref, now = runs["reference (1 h)"], runs["platform"]
    print(
        f"  ratio (reference / platform): kernels {ref['left'] / max(now['left'], 1):.1f}x, "
        f"memory {ref['rss'] / now['rss']:.1f}x;  goal: left == pool ({now['pool']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
