"""How long the apps take to open, in Chromium: the Reduce page, and Explore on a request.

    .venv/bin/python benchmarks/bench_app_open.py [--runs 5]

Starts ``hectornb serve`` on a throw-away home with the demo loaded (as ``./dev.sh demo``),
one preheated kernel per app, reduces the demo night once, then opens, ``--runs`` times each
(a fresh page, the pool refilled between):

- the Reduce app: navigation -> interactive (the signed-in user shown, the request form
  ready). Goal: <= 2.5 s, as Classify;
- Explore from the request's "Explore the products" link (``explore.ipynb?job=<id>``):
  navigation -> the first spectrum drawn. Goal: <= 2 s;
- Classify to its first cards, the reference, in the same run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.harness import launch, serve_platform  # noqa: E402

READY = {
    "reduce": "(document.querySelector('[data-testid=reduce] .hnb-user')?.textContent || '')"
    ".includes('signed in') && !!document.querySelector('.hnb-make-it-so')",
    "explore": "document.querySelector('[data-testid=spectrum]')?.dataset.fibre !== undefined",
    "classify": "document.querySelector('[data-testid=classify]')?.dataset.ready === 'true'",
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reduce_demo_night(env: dict) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hectornb.cli",
            "reduce",
            "submit",
            "--night",
            "2025-10-01",
            "--wait",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split("request ", 1)[1].split(":", 1)[0].strip()


def open_times(browser, url: str, ready: str, runs: int) -> list[float]:
    """The first open with an empty browser cache, then ``runs - 1`` more in the same browser
    (its cache warm, as when a user goes from the Reduce app to Explore). The browser cannot
    reach beyond loopback; any request that fails is reported."""
    times = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    for _ in range(runs):
        page = context.new_page()
        failed = []
        page.on("requestfailed", lambda r, failed=failed: failed.append(r.url))
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_function(ready, timeout=120_000, polling=50)
        times.append(time.perf_counter() - t0)
        if failed:
            print(f"  {url.split('?')[0]}: failed requests {failed}")
        page.close()
        time.sleep(12)  # the pool's next kernel preheats
    context.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)  # at least 2
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        token = uuid.uuid4().hex
        env = {
            **os.environ,
            "HECTORNB_HOME": tmp,
            "JUPYTER_TOKEN": token,
            "HECTORNB_POOL_SIZE": "1",
        }
        env.pop("HECTORNB_DATABASE_URL", None)
        subprocess.run(
            [sys.executable, "-m", "hectornb.cli", "demo"], env=env, check=True, capture_output=True
        )
        proc, base = serve_platform(
            env,
            _port(),
            Path(tmp) / "serve.log",
            apps=("classify.ipynb", "reduce.ipynb", "explore.ipynb"),
            timeout=300,
        )
        try:
            job = reduce_demo_night(env)
            urls = {
                "reduce": f"{base}/voila/render/reduce.ipynb?token={token}",
                "explore": f"{base}/voila/render/explore.ipynb?token={token}&job={job}",
                "classify": f"{base}/voila/render/classify.ipynb?token={token}",
            }
            with sync_playwright() as p:
                browser = launch(p, offline_hosts=True)
                found = {
                    app: open_times(browser, urls[app], READY[app], args.runs)
                    for app in ("classify", "reduce", "explore")
                }
                browser.close()
        finally:
            proc.terminate()
            proc.wait(60)
    goals = {"reduce": 2.5, "explore": 2.0, "classify": 2.5}
    print(
        "App open, navigation -> ready (preheated kernels): the first with an empty "
        f"browser cache, then the median of {args.runs - 1} with it warm"
    )
    for app, times in found.items():
        med = statistics.median(times[1:])
        print(
            f"  {app:9s} cold {times[0]:5.2f} s, warm {med:5.2f} s (max {max(times[1:]):.2f});"
            f" goal <= {goals[app]} s -> {med / goals[app]:.2f} of it; "
            f"{med / statistics.median(found['classify'][1:]):.2f}x Classify"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
