"""The Explore app in a real Chromium through Voilà: real 2dfdr products (the shipped Marz
files), the field view, the plotted spectrum checked against the file, the PDF export."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader

from hectornb.spectra import read
from hectornb.spectra.products import EXAMPLES
from hectornb.widgets.explore import field_offsets

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MULTI = "emlLogVacuumHelioMultiple.fits"  # three fibres, log-linear WAVELENGTH, vacuum
WITH_SKY = "emlLinearSkyAirHelio.fits"  # one fibre, linear WCS, air, a SKY extension


def open_explore(page, platform, query: str = ""):
    page.goto(f"{platform['base']}/voila/render/explore.ipynb?token={platform['token']}{query}")
    page.wait_for_selector('[data-testid="explore"][data-ready="true"]', timeout=60_000)


def assert_no_errors(page) -> None:
    """No JS error, no failed request, nothing asked of the internet."""
    assert (page.errors, page.blocked, page.failed) == ([], [], [])


def choose(page, label: str) -> None:
    """Choose a product by its label and wait until its first spectrum is drawn."""
    key = page.evaluate(
        """(label) => [...document.querySelectorAll('[data-testid=product] option')]
            .find((o) => o.textContent === label).value""",
        label,
    )
    page.select_option('[data-testid="product"]', key)
    page.wait_for_function(
        "(key) => document.querySelector('[data-testid=spectrum]').dataset.product === key",
        arg=key,
        timeout=30_000,
    )


def band_edges(trace: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wavelength, lower, upper) of a ±1σ band drawn as closed shapes, one per run of
    finite pixels (each: the lower edge forwards, the upper edge back, then a gap)."""
    waves, lows, highs = [], [], []
    x, y = np.array(trace["x"], float), np.array(trace["y"], float)
    breaks = np.flatnonzero(np.isnan(x))
    for a, b in zip(np.r_[0, breaks[:-1] + 1], breaks, strict=True):
        m = (b - a) // 2
        waves.append(x[a : a + m])
        lows.append(y[a : a + m])
        highs.append(y[a + m : b][::-1])
    return np.concatenate(waves), np.concatenate(lows), np.concatenate(highs)


def plotted(page) -> dict:
    """What plotly drew: the traces by name (x, y as numbers, NaN for gaps) and the title."""
    return page.evaluate(
        """() => {
            const gd = document.querySelector('[data-testid=spectrum]');
            const out = {title: gd.layout.title.text, xaxis: gd.layout.xaxis.title.text,
                         fibre: Number(gd.dataset.fibre), traces: {}};
            for (const t of gd.data) out.traces[t.name] = {
                x: Array.from(t.x, (v) => v == null ? NaN : Number(v)),
                y: Array.from(t.y, (v) => v == null ? NaN : Number(v))};
            return out;
        }"""
    )


def wait_drawn(page, fibre: int, count: int = 0) -> None:
    page.wait_for_function(
        """([fibre, count]) => {
            const gd = document.querySelector('[data-testid=spectrum]');
            return gd && gd.dataset.fibre === String(fibre) && Number(gd.dataset.count) > count;
        }""",
        arg=[fibre, count],
        timeout=30_000,
    )


def draws(page) -> int:
    return int(page.get_attribute('[data-testid="spectrum"]', "data-count") or 0)


def test_click_a_fibre_on_the_field_and_see_its_spectrum(browser_page, platform):
    page = browser_page
    open_explore(page, platform, f"&product={MULTI}")  # an example, named in the address
    wait_drawn(page, 0)
    assert page.get_attribute('[data-testid="spectrum"]', "data-product").endswith(MULTI)
    truth = read(EXAMPLES / MULTI)
    # the keys step through the fibres at once, before anything on the page is clicked
    before = draws(page)
    page.keyboard.press("ArrowRight")
    wait_drawn(page, 1, before)
    before = draws(page)
    page.keyboard.press("ArrowLeft")
    wait_drawn(page, 0, before)

    # the summary: field, centre in sexagesimal, exposure
    summary = page.inner_text('[data-testid="summary"]')
    assert "FLD195_v03" in summary and "02:21:59.5 -28:45:00.0" in summary
    assert "2700" in summary and "3" in summary

    # every fibre is on the field, coloured by type; click the second one
    assert page.locator('[data-testid="field"] g.hnb-fib').count() == 3
    before = draws(page)
    page.click('[data-testid="field"] g.hnb-fib[data-fibre="1"]')
    wait_drawn(page, 1, before)
    shown = plotted(page)
    name = str(truth.fibres["NAME"][1])
    assert name in shown["title"] and name in page.inner_text('[data-testid="fibre-info"]')
    assert "02:20:42.90 -29:22:32.05" in page.inner_text('[data-testid="fibre-info"]')
    assert shown["xaxis"] == "Wavelength (Å, vacuum)"
    # the spectrum drawn is that fibre's flux at its wavelengths (float32 on the wire)
    flux = shown["traces"]["flux"]
    assert np.allclose(flux["x"], truth.fibre_wavelength(1).value, rtol=1e-6)
    assert np.allclose(flux["y"], truth.flux[1], rtol=1e-5, equal_nan=True)
    assert not np.allclose(flux["y"], truth.flux[0], rtol=1e-3, equal_nan=True)
    # with its ±1σ band from the variance
    wave, lower, upper = band_edges(shown["traces"]["±1σ"])
    grid = truth.fibre_wavelength(1).value
    at = np.abs(grid[None, :] - wave[:, None]).argmin(axis=1)  # float32 on the wire
    assert np.allclose((upper - lower) / 2, np.sqrt(truth.variance[1][at]), rtol=1e-4)

    # the keyboard steps to the next fibre
    before = draws(page)
    page.locator('[data-testid="field"]').hover()
    page.keyboard.press("ArrowRight")
    wait_drawn(page, 2, before)
    assert str(truth.fibres["NAME"][2]) in plotted(page)["title"]

    # labels on the field, on and off
    assert page.locator('[data-testid="field"] g.hnb-fib text').count() == 0
    page.check('[data-testid="labels"]')
    assert page.locator('[data-testid="field"] g.hnb-fib text').count() == 3
    page.uncheck('[data-testid="labels"]')
    assert page.locator('[data-testid="field"] g.hnb-fib text').count() == 0

    # lines at a redshift: Hα at z = 0.05 (vacuum rest wavelength 6564.61 Å)
    page.check('[data-testid="lines"]')
    page.fill('[data-testid="redshift"]', "0.05")
    page.wait_for_function(
        "document.querySelector('[data-testid=spectrum]').layout.shapes"
        ".some((s) => Math.abs(s.x0 - 6564.61 * 1.05) < 0.01)"
    )
    assert_no_errors(page)


def test_sky_overlay_smoothing_and_pdf_export(browser_page, platform, tmp_path):
    page = browser_page
    open_explore(page, platform)
    choose(page, WITH_SKY)
    wait_drawn(page, 0)
    truth = read(EXAMPLES / WITH_SKY)
    assert plotted(page)["xaxis"] == "Wavelength (Å, air)"
    assert "sky" not in plotted(page)["traces"]

    before = draws(page)
    page.check('[data-testid="sky"]')
    wait_drawn(page, 0, before)
    sky = plotted(page)["traces"]["sky"]
    assert np.allclose(sky["y"], truth.sky, rtol=1e-5, equal_nan=True)

    before = draws(page)
    page.select_option('[data-testid="smooth"]', "5")
    wait_drawn(page, 0, before)
    smoothed = np.array(plotted(page)["traces"]["flux"]["y"])
    k = 1000  # a pixel with finite neighbours: the mean of the five around it
    assert np.isclose(smoothed[k], truth.flux[0][k - 2 : k + 3].mean(), rtol=1e-4)

    with page.expect_download(timeout=60_000) as download:
        page.click('[data-testid="pdf"]')
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    pdf = PdfReader(io.BytesIO(path.read_bytes()))
    assert len(pdf.pages) == 1
    assert str(truth.fibres["NAME"][0]) in pdf.pages[0].extract_text()
    assert_no_errors(page)


def test_upload_of_a_file_that_is_not_a_product_is_refused(browser_page, platform, tmp_path):
    page = browser_page
    open_explore(page, platform)
    bad = tmp_path / "notes.fits"
    bad.write_text("SIMPLE = this is not FITS\n")
    page.set_input_files('[data-testid="upload"]', str(bad))
    page.wait_for_selector('[data-testid="message"].hnb-error')
    assert "notes.fits is not a reduced product" in page.inner_text('[data-testid="message"]')
    # a real product uploads and opens
    page.set_input_files('[data-testid="upload"]', str(EXAMPLES / MULTI))
    page.wait_for_function(
        f"document.querySelector('[data-testid=spectrum]').dataset.product === 'Uploaded:{MULTI}'",
        timeout=30_000,
    )
    assert page.locator('[data-testid="field"] g.hnb-fib').count() == 3


def test_upload_larger_than_a_websocket_message(browser_page, platform, tmp_path):
    """Jupyter refuses websocket messages over 10 MiB: a 12 MB product goes in pieces."""
    from astropy import units as u
    from astropy.table import Table

    from hectornb.spectra import ReducedFrame, write_2dfdr

    rng = np.random.default_rng(5)
    n, npix = 300, 5000
    fibres = Table(
        {
            "NAME": [f"F{i:03d}" for i in range(n)],
            "TYPE": ["P"] * n,
            "RA": np.full(n, 10.0) * u.deg,
            "DEC": np.linspace(-30, -29.5, n) * u.deg,
        }
    )
    frame = ReducedFrame(
        rng.normal(100, 3, (n, npix)),
        5000 + np.arange(npix) * 0.5,
        fibres,
        variance=np.full((n, npix), 9.0),
    )
    path = write_2dfdr(frame, tmp_path / "big_red.fits")
    assert path.stat().st_size > 10 * 2**20
    page = browser_page
    open_explore(page, platform)
    page.set_input_files('[data-testid="upload"]', str(path))
    page.wait_for_function(
        "document.querySelector('[data-testid=spectrum]').dataset.product"
        " === 'Uploaded:big_red.fits'",
        timeout=60_000,
    )
    page.click('[data-testid="field"] g.hnb-fib[data-fibre="299"]')
    wait_drawn(page, 299)
    assert np.allclose(plotted(page)["traces"]["flux"]["y"], frame.flux[299], rtol=1e-6)
    # 300 fibres in a line: their labels are thinned so that none overlaps another
    page.check('[data-testid="labels"]')
    boxes = page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=field] g.hnb-fib text')].map((t) => {
          const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })""")
    assert 10 < len(boxes) < 300
    for k, a in enumerate(boxes):
        for b in boxes[k + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_sky_view_in_aladin_lite_click_a_fibre(browser_page, platform):
    page = browser_page
    open_explore(page, platform)
    choose(page, MULTI)
    canvas = page.locator(".aladin-container canvas").first
    canvas.wait_for(timeout=30_000)
    page.wait_for_function(
        "document.querySelector('.aladin-container input.search')?.value.includes('02 21 59.50')",
        timeout=30_000,
    )
    page.wait_for_timeout(1000)  # the fibre layers arrive after the view has moved
    truth = read(EXAMPLES / MULTI)
    # where fibre 3 is: the view is centred on the field, 2.3 degrees wide (SIN projection)
    page.locator(".aladin-container").scroll_into_view_if_needed()
    box = page.locator(".aladin-container").bounding_box()
    scale = box["width"] / (2.3 * 60)  # pixels per arcmin
    east, north = field_offsets(truth)
    x = box["x"] + box["width"] / 2 - east[2] * scale
    y = box["y"] + box["height"] / 2 - north[2] * scale
    before = draws(page)
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y, steps=5)  # Aladin Lite finds the source under the pointer on move
    page.mouse.click(x, y)
    wait_drawn(page, 2, before)
    assert str(truth.fibres["NAME"][2]) in plotted(page)["title"]

    # "Show Labels" names the fibres in Aladin Lite too: the pixels beside the fibre change
    near = {"x": x + 4, "y": y - 12, "width": 110, "height": 24}
    plain = page.screenshot(clip=near)
    page.check('[data-testid="labels"]')
    page.wait_for_timeout(1500)
    assert page.screenshot(clip=near) != plain
    assert_no_errors(page)


def test_when_aladin_lite_cannot_start_the_field_plot_does_the_job(browser_page, platform):
    page = browser_page
    page.route("**/hectornb/static/aladin-lite/aladin.js", lambda r: r.abort())
    open_explore(page, platform)
    choose(page, MULTI)
    page.wait_for_selector('.hnb-sky-note:has-text("could not be started")', timeout=20_000)
    before = draws(page)
    page.click('[data-testid="field"] g.hnb-fib[data-fibre="2"]')
    wait_drawn(page, 2, before)
    assert all(
        "Failed to fetch dynamically imported module" in e
        or e == "[anywidget] Failed to initialize model."
        for e in page.errors
    ), page.errors


def test_a_spliced_spectrum_gap_range_and_crowded_lines(browser_page, platform, tmp_path):
    """Blue and red arms on one grid with nothing between them, a cosmic-ray residual of
    5000 counts on a 30-count spectrum, and lines crowded at Hα."""
    from astropy import units as u
    from astropy.table import Table

    from hectornb.spectra import ReducedFrame, write_2dfdr

    rng = np.random.default_rng(7)
    wave = 3700.0 + np.arange(5100) * 1.0
    gap = (wave > 5700) & (wave < 6300)
    flux = rng.normal(30, 3, (2, wave.size))
    flux[:, gap] = np.nan
    flux[:, 1000] = 5000.0  # a cosmic-ray residual
    variance = np.where(gap, np.nan, 9.0)[None].repeat(2, axis=0)
    fibres = Table(
        {
            "NAME": ["G1", "G2"],
            "TYPE": ["P", "P"],
            "RA": [10.0, 10.01] * u.deg,
            "DEC": [-30.0, -30.01] * u.deg,
        }
    )
    path = write_2dfdr(
        ReducedFrame(flux, wave, fibres, variance=variance), tmp_path / "arms_spliced.fits"
    )
    page = browser_page
    open_explore(page, platform)
    page.set_input_files('[data-testid="upload"]', str(path))
    page.wait_for_function(
        "document.querySelector('[data-testid=spectrum]').dataset.product"
        " === 'Uploaded:arms_spliced.fits'",
        timeout=60_000,
    )
    shown = plotted(page)
    # nothing is drawn between the arms: the flux is a gap there, the band has no shape
    in_gap = (np.array(shown["traces"]["flux"]["x"]) > 5700) & (
        np.array(shown["traces"]["flux"]["x"]) < 6300
    )
    assert np.isnan(np.array(shown["traces"]["flux"]["y"], float)[in_gap]).all()
    band_wave, _, _ = band_edges(shown["traces"]["±1σ"])
    assert not ((band_wave > 5700) & (band_wave < 6300)).any()
    # the y-range shows the spectrum, not the spike; "full range" shows the spike too
    lo, hi = map(float, page.get_attribute('[data-testid="spectrum"]', "data-yrange").split(","))
    assert 0 < lo < 25 and 35 < hi < 60, (lo, hi)
    page.check('[data-testid="full-range"]')
    page.wait_for_function(
        "document.querySelector('[data-testid=spectrum]').dataset.yrange === 'auto'"
    )
    top = page.evaluate(
        "document.querySelector('[data-testid=spectrum]')._fullLayout.yaxis.range[1]"
    )
    assert top >= 5000
    # lines at z = 0: [NII], Hα, [NII], [SII] crowd 6548-6731 Å; no two labels overlap
    page.check('[data-testid="lines"]')
    page.wait_for_function(
        "Number(document.querySelector('[data-testid=spectrum]').dataset.lines) > 5"
    )
    boxes = page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=spectrum] .annotation')].map((a) => {
          const r = a.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    assert len(boxes) >= 3
    for k, a in enumerate(boxes):
        for b in boxes[k + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert_no_errors(page)
