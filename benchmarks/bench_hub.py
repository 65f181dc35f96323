"""The data-centre deployment against the single-user platform, measured in the same run.

    sudo .venv/bin/python benchmarks/bench_hub.py [--keys 60] [--users 20] [--calls 200]

Deploys JupyterHub with the hectornb service as tests/hub.py does (real Unix users, the
service as its own user, ``deploy/jupyterhub_config.py`` as written; needs root) and starts a
single-user ``hectornb serve`` beside it, both with the same 200-target list. Then:

- Classify in Chromium, key press -> class stored and shown (in-page clock), single-user and
  through the Hub's proxy and the service (target: p95 within 1.5x the single-user figure);
- ``--users`` people signed in to the Hub with the Classify app open each: the service's
  memory (every process of its Unix user: server, kernels, database, Dask) before and with
  them, and the latency of an API call (a 200-target page) beside the single-user server's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.harness import KEY_CLOCK_JS, benchmark_server, launch  # noqa: E402
from support.hub import SERVICE_USER, running_hub, why_not  # noqa: E402

LIST = "bench-hub"
PAGE = f"targets/lists/{LIST}/targets?limit=200"


def target_file(n: int = 200) -> bytes:
    rng = np.random.default_rng(3)
    lines = [f"G{k:04d},{rng.uniform(0, 360):.6f},{rng.uniform(-80, 20):.6f}" for k in range(n)]
    return ("\n".join(lines) + "\n").encode()


def load_list(api: str, headers: dict) -> None:
    r = requests.post(
        f"{api}/targets/lists",
        data=target_file(),
        headers=headers,
        timeout=60,
        params={"filename": f"{LIST}.csv", "overwrite": "true"},
    )
    assert r.status_code == 201, r.text


def key_presses(page, url: str, keys: int) -> list[float]:
    """Open Classify at ``url`` and classify ``keys`` cards; the in-page latencies (ms)."""
    page.goto(url)
    page.wait_for_function(
        "document.querySelector('[data-testid=grid]')?.dataset.count === '200'", timeout=120_000
    )
    page.evaluate(KEY_CLOCK_JS)
    names = page.eval_on_selector_all(".hnb-card", "cs => cs.map(c => c.dataset.target)")
    rng = np.random.default_rng(1)
    for k in range(keys):
        name, value = names[k % len(names)], int(rng.integers(0, 9))
        card = page.locator(f'.hnb-card[data-target="{name}"]')
        if card.get_attribute("data-badclass") == str(value):
            value = (value + 1) % 9
        head = card.locator(".hnb-head")
        head.scroll_into_view_if_needed()
        head.hover()
        page.keyboard.press(str(value))
        page.wait_for_selector(
            f'.hnb-card[data-target="{name}"][data-badclass="{value}"]:not(.hnb-pending)',
            timeout=10_000,
        )
    return page.evaluate("window.__lat")


def sign_in(page, hub, user: str) -> None:
    from support.hub import PASSWORD

    # straight back to the service: visitors have no server of their own to spawn
    page.goto(f"{hub.url}/hub/login?next=/services/hectornb/hectornb/")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.service}/hectornb/", timeout=60_000)


def service_memory_mb() -> float:
    """Resident memory of every process of the service's Unix user, MB."""
    total = 0
    for proc in psutil.process_iter(["username", "memory_info"]):
        if proc.info["username"] == SERVICE_USER and proc.info["memory_info"]:
            total += proc.info["memory_info"].rss
    return total / 1e6


def call_latency(url: str, headers: dict, calls: int) -> np.ndarray:
    with requests.Session() as s:
        s.headers.update(headers)
        s.get(url, timeout=30).raise_for_status()
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            s.get(url, timeout=30).raise_for_status()
            out.append((time.perf_counter() - t0) * 1e3)
    return np.array(out)


def pct(values, q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=60)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    if why_not():
        print(f"cannot deploy a Hub here: {why_not()}")
        return 1
    from playwright.sync_api import sync_playwright

    visitors = tuple(f"visitor{k:02d}" for k in range(args.users))
    home = tempfile.mkdtemp(prefix="bench-hub-")
    os.environ["HECTORNB_HOME"] = home
    os.environ.pop("HECTORNB_DATABASE_URL", None)
    with benchmark_server(home) as single, running_hub(Path("/srv/hectornb-hub-site")) as hub:
        single_api, single_auth = f"{single}/hectornb/api", {"Authorization": "token bench"}
        token = hub.token("alice")
        hub_api, hub_auth = f"{hub.service}/hectornb/api", {"Authorization": f"token {token}"}
        load_list(single_api, single_auth)
        load_list(hub_api, hub_auth)
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            solo = key_presses(
                page,
                f"{single}/voila/render/classify.ipynb?token=bench&list={LIST}&per_page=200",
                args.keys,
            )
            page.close()
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            sign_in(page, hub, "alice")
            hubbed = key_presses(
                page,
                f"{hub.service}/voila/render/classify.ipynb?list={LIST}&per_page=200",
                args.keys,
            )
            context.close()

            single_calls = call_latency(f"{single_api}/{PAGE}", single_auth, args.calls)
            idle_calls = call_latency(f"{hub_api}/{PAGE}", hub_auth, args.calls)
            time.sleep(2)
            idle_mb = service_memory_mb()
            contexts = []
            t0 = time.perf_counter()
            for user in visitors:
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                pg = ctx.new_page()
                sign_in(pg, hub, user)
                pg.goto(f"{hub.service}/voila/render/classify.ipynb?list={LIST}&per_page=200")
                pg.wait_for_function(
                    "document.querySelector('[data-testid=grid]')?.dataset.count === '200'",
                    timeout=180_000,
                )
                contexts.append(ctx)
            opened = time.perf_counter() - t0
            time.sleep(2)
            busy_mb = service_memory_mb()
            busy_calls = call_latency(f"{hub_api}/{PAGE}", hub_auth, args.calls)
            for ctx in contexts:
                ctx.close()
            browser.close()

    ratio = pct(hubbed, 95) / pct(solo, 95)
    print(f"Classify key press -> stored and shown (in-page clock, {args.keys} presses each):")
    print(
        f"  single-user hectornb serve         p50 {pct(solo, 50):5.0f} ms  "
        f"p95 {pct(solo, 95):5.0f} ms"
    )
    print(
        f"  JupyterHub proxy + the service     p50 {pct(hubbed, 50):5.0f} ms  "
        f"p95 {pct(hubbed, 95):5.0f} ms  -> {ratio:.2f}x single-user p95 (target <= 1.5x)"
    )
    print(f"{args.users} users with Classify open ({opened:.0f} s to open them one after another):")
    print(
        f"  the service's memory (all of user {SERVICE_USER}): {idle_mb:,.0f} MB idle -> "
        f"{busy_mb:,.0f} MB, {(busy_mb - idle_mb) / args.users:,.0f} MB per open app"
    )
    print(f"  API call (a 200-target page), {args.calls} calls, p50 / p95:")
    print(
        f"    single-user, one app open            {pct(single_calls, 50):5.1f} / "
        f"{pct(single_calls, 95):5.1f} ms"
    )
    print(
        f"    through the Hub's proxy, idle         {pct(idle_calls, 50):5.1f} / "
        f"{pct(idle_calls, 95):5.1f} ms"
    )
    print(
        f"    through the Hub's proxy, {args.users} apps open {pct(busy_calls, 50):5.1f} / "
        f"{pct(busy_calls, 95):5.1f} ms ({pct(busy_calls, 95) / pct(single_calls, 95):.2f}x "
        f"single-user p95)"
    )
    print(f"  (median of the single-user page: {statistics.median(single_calls):.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
