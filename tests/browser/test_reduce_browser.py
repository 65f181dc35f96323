"""The Reduce app in a real Chromium through Voilà: query the simulated archive, look at a
frame's fibre table, select frames, set options, "Make it so!", watch the request finish,
download the products and the raw frames."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from support.harness import chromium_path
from support.raw_frames import break_data

from hectornb.demo import index_simulated_night

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None, reason="Chromium not installed (./dev.sh test installs it)"
    ),
]


@pytest.fixture(scope="module")
def night(platform, tmp_path_factory):
    raw = tmp_path_factory.mktemp("browser-night") / "raw"
    return index_simulated_night(
        raw, (getpass.getuser(),), date=dt.date(2025, 9, 7), seed=7, fields=1
    )


def test_find_reduce_follow_and_download_in_the_browser(browser_page, platform, night, tmp_path):
    page = browser_page
    page.goto(
        f"{platform['base']}/voila/render/reduce.ipynb?token={platform['token']}&night=250907"
    )
    page.wait_for_selector('[data-testid="reduce"][data-ready="true"]', timeout=60_000)
    app = page.locator('[data-testid="reduce"]')
    # ?night= ran the query: every frame of the night is listed
    app.locator(".hnb-grid tbody tr").first.wait_for()
    assert app.locator(".hnb-grid tbody tr").count() == len(night)
    # filter to the object frames with the form
    app.locator(".hnb-filters select[name=ndfclass]").select_option("MFOBJECT")
    app.locator(".hnb-filters input[name=night_from]").fill("250907")
    app.locator(".hnb-filters input[name=night_to]").fill("250907")
    app.locator(".hnb-filters button[type=submit]").click()
    page.wait_for_function("document.querySelectorAll('.hnb-grid tbody tr').length === 6")
    assert set(app.locator(".hnb-grid tbody tr td:nth-child(5)").all_inner_texts()) == {"MFOBJECT"}
    # the fibre table VIEW of a frame: every fibre, RA/Dec in degrees
    first = app.locator(".hnb-grid tbody tr").first
    fibres = fits.getdata(first.get_attribute("data-path"), "FIBRES")
    first.locator(".hnb-fibres").click()
    dialog = app.locator("dialog.hnb-view")
    dialog.wait_for(state="visible")
    assert re.fullmatch(
        rf"Fibre table of \d+sep\d+\.fits \({len(fibres)}\)", dialog.locator("h3").inner_text()
    )
    cells = dialog.locator("tbody tr").first.locator("td").all_inner_texts()
    assert cells[1] == fibres["NAME"][0].strip()
    assert float(cells[3]) == pytest.approx(np.degrees(fibres["RA"][0]), abs=1e-5)
    dialog.locator(".hnb-view-close").click()
    # select every object frame and download them
    app.locator(".hnb-all").check()
    assert app.locator(".hnb-selected").inner_text() == "6/6 selected"
    with page.expect_download() as raw_download:
        app.locator(".hnb-download-raw").click()
    raw_zip = tmp_path / "raw.zip"
    raw_download.value.save_as(raw_zip)
    with zipfile.ZipFile(raw_zip) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".fits")]) == 6
    # the options form: COSMIC off, then "Make it so!"
    app.locator(".hnb-open-options").click()
    # the engine: the platform's default unless another is chosen
    engines = app.locator(".hnb-engine option").all_inner_texts()
    assert engines[0] == "builtin" and app.locator(".hnb-engine").input_value() == "builtin"
    # an engine this platform cannot run is shown greyed out, saying why (no 2dFdr here)
    missing = app.locator(".hnb-engine option", has_text="2dfdr (not here)")
    missing.wait_for(state="attached", timeout=10_000)
    assert missing.is_disabled() and "aaorun is not on PATH" in missing.get_attribute("title")
    app.locator("#hnb-opt-COSMIC").select_option("NONE")
    app.locator(".hnb-make-it-so").click()
    message = app.locator(".hnb-message")
    message.filter(has_text="submitted").wait_for(timeout=30_000)
    job_id = re.search(r"Request ([0-9a-f-]{36}) submitted", message.inner_text()).group(1)
    # the status page opens by itself and follows the request to the end
    status = app.locator(".hnb-status")
    assert status.locator(".hnb-job-id").inner_text() == job_id
    # from the start it says what it is doing: planning, then "n of m steps", never "0/0"
    first = status.locator(".hnb-steps-count").inner_text()
    assert re.match(
        r"(waiting for a free runner|planning the reduction of 6 object frames|"
        r"\d+ of 19 steps done)",
        first,
    ), first
    status.locator(".hnb-badge", has_text="Finished").wait_for(timeout=180_000)
    assert "COSRAY_MTHD=NONE" in status.inner_text() and "engine builtin" in status.inner_text()
    # the cluster's dashboard through the platform, behind its sign-in, with live plots
    link = status.locator("a", has_text="Dask dashboard").get_attribute("href")
    assert link.endswith("/hectornb/dask/status") and not link.startswith("http")
    dashboard = page.context.new_page()
    dashboard.goto(platform["base"] + link)
    dashboard.wait_for_selector("canvas", timeout=30_000)
    assert dashboard.locator("canvas").count() > 5 and "Dask" in dashboard.title()
    dashboard.close()
    import requests

    anonymous = requests.get(platform["base"] + link, allow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 401, 403)
    # once finished the outcome is said once, in the request's message
    assert status.locator(".hnb-steps-count").inner_text() == ""
    assert status.locator(".hnb-job-message").inner_text().startswith("19 of 19 steps done")
    assert status.locator(".hnb-steps tbody tr").count() == 19
    # the products' PDFs were drawn during the reduction: the zip is written at once, and
    # the button says it is preparing until the download starts
    with page.expect_download() as reduced:
        status.locator(".hnb-download[data-what=reduced]").click()
        assert "hnb-preparing" in status.locator(".hnb-download[data-what=reduced]").get_attribute(
            "class"
        )
    products = tmp_path / "reduced.zip"
    reduced.value.save_as(products)
    with zipfile.ZipFile(products) as zf:
        names = zf.namelist()
    assert sum(n.endswith("red.fits") for n in names) == 6 and "log.txt" in names
    assert sum(n.endswith("red.pdf") for n in names) == 6
    page.wait_for_selector(".hnb-download[data-what=reduced]:not(.hnb-preparing)")
    # the products open in the Explore app: a fibre clicked on the field is the one drawn.
    # The kernel opens the request's product while the page loads, so the widget's first
    # drawing already shows it; plotly.js is fetched once, by the page's head.
    page.context.add_init_script("""new MutationObserver((_, seen) => {
        const root = document.querySelector('[data-testid=explore]');
        if (!root) return;
        window.firstSummary = root.querySelector('[data-testid=summary]').textContent;
        seen.disconnect();
    }).observe(document, {subtree: true, childList: true});""")
    with page.context.expect_page() as opened:
        status.locator(".hnb-explore").click()
    explore = opened.value
    explore.wait_for_selector('[data-testid="explore"][data-ready="true"]', timeout=60_000)
    offered = explore.locator('[data-testid="product"] optgroup').first
    assert offered.get_attribute("label") == f"Request {job_id}"
    labels = offered.locator("option").all_inner_texts()
    assert all(re.fullmatch(r"\d{6}/[\w/-]+\.fits", x) for x in labels), labels
    assert sum(x.endswith("red.fits") for x in labels) == 6
    explore.wait_for_function(
        "document.querySelector('[data-testid=spectrum]').dataset.fibre === '0'", timeout=30_000
    )
    first = explore.evaluate("window.firstSummary")
    assert "Field" in first and first == explore.text_content('[data-testid="summary"]')
    assert (
        explore.evaluate("""performance.getEntriesByType('resource')
        .filter((r) => r.name.includes('plotly-basic.min.js')).length""")
        == 1
    )
    fibre = explore.locator('[data-testid="field"] g.hnb-fib.hnb-type-P').nth(3)
    number = int(fibre.get_attribute("data-fibre"))
    fibre.click()
    explore.wait_for_function(
        f"document.querySelector('[data-testid=spectrum]').dataset.fibre === '{number}'",
        timeout=30_000,
    )
    name = explore.get_attribute('[data-testid="spectrum"]', "data-name")
    assert name == explore.inner_text('[data-testid="fibre-name"]') and name.startswith("G")
    # and it is listed among "Your requests"
    app.locator(".hnb-tabs button[data-tab=requests]").click()
    row = app.locator(f'.hnb-jobs tr[data-id="{job_id}"]')
    row.wait_for()
    assert "Finished" in row.inner_text()
    assert page.errors == []


def test_a_request_with_failures_says_what_failed_and_stays_readable(
    browser_page, platform, tmp_path_factory
):
    """A night whose red arc is broken: the status page counts the steps done, failed and
    skipped apart (not "34 of 34 done"), the bar shows both, the reasons wrap within the
    page at 1400 px, and a step's log opens as wide as the table."""
    import requests

    raw = tmp_path_factory.mktemp("broken-night") / "raw"
    frames = index_simulated_night(
        raw, (getpass.getuser(),), date=dt.date(2025, 9, 8), seed=8, fields=1
    )
    arcs = frames[(frames["ndfclass"] == "MFARC") & (frames["arm"] == "red")]
    break_data(Path(arcs["path"].iloc[0]))
    auth = {"Authorization": f"token {platform['token']}"}
    api = f"{platform['base']}/hectornb/api/reduce/jobs"
    job = requests.post(
        api, json={"night_from": "250908", "night_to": "250908"}, headers=auth, timeout=60
    ).json()
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(
        f"{platform['base']}/voila/render/reduce.ipynb?token={platform['token']}&job={job['id']}"
    )
    status = page.locator('[data-testid="reduce"] .hnb-status')
    status.locator(".hnb-badge", has_text="Finished with failures").wait_for(timeout=240_000)
    steps = requests.get(f"{api}/{job['id']}", headers=auth, timeout=60).json()["steps"]
    count = {k: sum(s["status"] == k for s in steps) for k in ("done", "failed", "skipped")}
    assert count["failed"] >= 1 and count["skipped"] >= 1 and count["done"] >= 1
    assert status.locator(".hnb-steps-count").inner_text() == (
        f"{count['done']} of {len(steps)} steps done · {count['failed']} failed · "
        f"{count['skipped']} skipped"
    )
    bar = status.locator(".hnb-progress").bounding_box()["width"]
    done = status.locator(".hnb-bar-done").bounding_box()["width"]
    assert done / bar == pytest.approx(count["done"] / len(steps), abs=0.01)
    assert status.locator(".hnb-bar-failed").bounding_box()["width"] > 0
    # the reasons wrap: the table is no wider than the page
    table = status.locator("table.hnb-steps").bounding_box()
    assert table["x"] + table["width"] <= 1400
    failed = status.locator("tr.step-failed")
    assert "ArcError" in failed.first.inner_text()
    # a step's log in a row of its own, as wide as the table
    status.locator("tr.step-done .hnb-log-toggle").first.click()
    log = status.locator("tr.hnb-log-row pre")
    log.wait_for()
    assert log.bounding_box()["width"] > 0.8 * table["width"]
    assert log.inner_text().strip()
    assert page.errors == []
