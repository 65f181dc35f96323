"""The landing page and the five apps in Chromium with no internet at all, as at a telescope.

Every request beyond loopback is refused. Each page must load whole, with no failed request
and no console error, and the sky views must draw on the platform's own blank sky: the
hexabundle footprints around the active target in Classify, the fibres of the field in
Explore.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from support.harness import chromium_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None, reason="Chromium not installed (./dev.sh test installs it)"
    ),
]

#: What each page shows once it has started.
READY = {
    "hectornb/": '[data-testid="apps"] a',
    "voila/render/classify.ipynb": '[data-testid="classify"][data-ready="true"]',
    "voila/render/explore.ipynb": '[data-testid="explore"][data-ready="true"]',
    "voila/render/reduce.ipynb": '[data-testid="reduce"] .hnb-user',
    "voila/render/obslog.ipynb": '[data-testid="obslog"] .hnb-user',
    "voila/render/tap.ipynb": '[data-testid="tap"] .hnb-user',
}


def _colour_share(png: bytes, rgb: tuple[int, int, int], tolerance: int = 40) -> float:
    """The fraction of a screenshot's pixels within ``tolerance`` of colour ``rgb``."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    return float((np.abs(pixels - np.array(rgb)).max(axis=2) <= tolerance).mean())


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


@pytest.mark.parametrize("path", list(READY))
def test_every_page_loads_whole_with_no_internet(browser_page, platform, path):
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{platform['base']}/{path}?token={platform['token']}")
    page.wait_for_selector(READY[path], timeout=60_000)
    page.wait_for_timeout(3000)  # late requests: sky tiles, fonts, plotly
    assert page.blocked == [], "asked the internet for " + ", ".join(page.blocked)
    assert page.failed == []
    assert page.console_errors == []
    assert page.locator(".voila-error, .jp-RenderedText[data-mime-type*=stderr]").count() == 0


def test_classify_sky_view_draws_the_hexabundles_offline(browser_page, platform, store, list_name):
    from hectornb.targets import parse_target_bytes
    from hectornb.widgets.sky import FOOTPRINT_COLOURS

    csv = b"NGC6337,17:22:15.67,-38:29:01.73\nTe11,05 45 58.264,+02 21 06.41\n"
    store.import_list(parse_target_bytes(csv, "t.csv"), list_name, "ann")
    page = browser_page
    page.goto(
        f"{platform['base']}/voila/render/classify.ipynb?token={platform['token']}&list={list_name}"
    )
    page.wait_for_selector('[data-testid="classify"][data-ready="true"]', timeout=60_000)
    sky = page.locator(".aladin-container").first
    sky.wait_for(timeout=30_000)
    # the footprints are drawn once Aladin Lite has started and the view is on the target
    page.wait_for_function(
        "() => document.querySelector('.aladin-container input.search')?.value"
        ".startsWith('17 22 15')",
        timeout=30_000,
    )
    page.wait_for_timeout(1000)
    shot = sky.screenshot()
    assert all(_colour_share(shot, _hex(c)) > 0.001 for c in FOOTPRINT_COLOURS.values())
    assert (page.errors, page.blocked, page.failed) == ([], [], [])


def test_explore_sky_view_draws_the_fibres_offline(browser_page, platform):
    from hectornb.spectra.pdf import TYPE_COLOURS

    page = browser_page
    page.goto(f"{platform['base']}/voila/render/explore.ipynb?token={platform['token']}")
    page.wait_for_selector('[data-testid="explore"][data-ready="true"]', timeout=60_000)
    key = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=product] option')]
            .find((o) => o.textContent === 'emlLogVacuumHelioMultiple.fits').value"""
    )
    page.select_option('[data-testid="product"]', key)
    sky = page.locator(".aladin-container").first
    sky.wait_for(timeout=30_000)
    sky.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => document.querySelector('.aladin-container input.search')?.value"
        ".includes('02 21 59.50')",
        timeout=30_000,
    )
    page.wait_for_timeout(1500)  # the fibre layers arrive after the view has moved
    # three program fibres on the blank sky, in the field plot's colour for program targets
    assert _colour_share(sky.screenshot(), _hex(TYPE_COLOURS["P"])) > 0.0002
    assert (page.errors, page.blocked, page.failed) == ([], [], [])


def test_a_closed_page_gives_its_kernel_back_and_an_open_one_keeps_it(browser_page, platform):
    import re
    import time

    import requests

    def kernel_of(page) -> str:
        return re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content()).group(1)

    def alive(kernel: str) -> bool:
        r = requests.get(
            f"{platform['base']}/api/kernels/{kernel}",
            params={"token": platform["token"]},
            timeout=10,
        )
        return r.status_code == 200

    url = f"{platform['base']}/voila/render/obslog.ipynb?token={platform['token']}"
    # the preheated kernels have been idle longer than the grace (15 s): handed to a page,
    # each must still reach it (the culler once stopped it before the page connected)
    time.sleep(20)
    kept = browser_page
    kept.goto(url)
    kept.wait_for_selector('[data-testid="obslog"][data-ready="true"]', timeout=60_000)
    closed = kept.context.new_page()
    closed.goto(url)
    closed.wait_for_selector('[data-testid="obslog"][data-ready="true"]', timeout=60_000)
    gone, open_ = kernel_of(closed), kernel_of(kept)
    assert gone != open_ and alive(gone) and alive(open_)
    closed.close()
    # the platform runs with HECTORNB_PAGE_KERNEL_GRACE=15: stopped within grace + a check
    deadline = time.monotonic() + 60
    while alive(gone) and time.monotonic() < deadline:
        time.sleep(1)
    assert not alive(gone), "a closed page's kernel was kept"
    # the page still open, idle all that while, kept its kernel and works
    assert alive(open_)
    kept.click('button[data-detail="runs"]')
    kept.wait_for_selector('[data-testid="page"][data-view="table"]')
