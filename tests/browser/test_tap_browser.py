"""The TAP app in a real Chromium through Voilà: browse the metadata, run an example, upload a
local table and cross-match it, download the result and compare it with the database, run a
query as a job and open its result, send positions to Classify as a target list."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from astropy.table import Table
from support.tap_fixtures import ROWS, fixed_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.slow]

T = "apptest.stars"


@pytest.fixture(scope="module")
def published(platform):
    from hectornb.tap import ingest_table

    ingest_table(fixed_catalogue(), T, description="TAP app test catalogue")
    return T


def open_tap(page, platform):
    page.goto(f"{platform['base']}/voila/render/tap.ipynb?token={platform['token']}")
    # ready: connected to this platform's service, its tables drawn
    page.wait_for_selector(
        '[data-testid="tap"][data-ready="true"] [data-testid="tree"] details', timeout=90_000
    )


def run_and_wait(page, adql: str, mode: str = "sync") -> None:
    before = page.get_attribute('[data-testid="message"]', "data-at") or ""
    page.fill('[data-testid="adql"]', adql)
    page.select_option('[data-testid="mode"]', mode)
    page.click('[data-testid="run"]')
    page.wait_for_function(
        "b => { const m = document.querySelector('[data-testid=message]');"
        " return m.dataset.at && m.dataset.at !== b; }",
        arg=before,
        timeout=60_000,
    )


def grid(page) -> list[dict]:
    heads = page.eval_on_selector_all(
        '[data-testid="grid"] thead th', "ths => ths.map(t => t.childNodes[0].textContent)"
    )
    rows = page.eval_on_selector_all(
        '[data-testid="grid"] tbody tr', "trs => trs.map(r => [...r.cells].map(c => c.textContent))"
    )
    return [dict(zip(heads, r, strict=True)) for r in rows]


def test_browse_run_upload_download_job_and_classify(browser_page, platform, published, tmp_path):
    from hectornb.targets import target_store

    page = browser_page
    open_tap(page, platform)
    caps = page.inner_text('[data-testid="capabilities"]')
    assert "this platform" in caps and "ADQL 2.1" in caps and "MAXREC 20000" in caps

    # the metadata browser: schema -> table -> columns with units and the index flag
    page.click('details[data-schema="apptest"] > summary')
    page.click(f'details[data-table="{T}"] > summary')
    ra = page.locator(f'details[data-table="{T}"] tr[data-column="ra"] td')
    assert ra.all_inner_texts() == ["ra", "double", "deg", "✓"]
    assert (
        page.locator(f'details[data-table="{T}"] tr[data-column="mag"] td').nth(2).inner_text()
        == "mag"
    )
    hint = page.inner_text(f'details[data-table="{T}"] [data-testid="hint"]')
    assert "ra, dec are indexed" in hint
    keys = page.text_content('details[data-table="TAP_SCHEMA.columns"]')
    assert "key → TAP_SCHEMA.tables (table_name = table_name)" in keys

    # Find: only the tables whose name or description holds the text
    page.fill('[data-testid="find"]', "app test catalogue")
    shown = (
        "ts => ts.filter(t => !t.hidden && !t.closest('.hnb-schema').hidden)"
        ".map(t => t.dataset.table)"
    )
    visible = page.eval_on_selector_all(".hnb-table", shown)
    assert visible == [T]
    page.fill('[data-testid="find"]', "")

    # an example of the service, run as it is
    page.select_option('[data-testid="examples"]', label="Every published table")
    assert "TAP_SCHEMA.tables" in page.input_value('[data-testid="adql"]')
    run_and_wait(page, page.input_value('[data-testid="adql"]'))
    assert T in [r["table_name"] for r in grid(page)]

    # a query typed in: the grid holds what the catalogue holds
    run_and_wait(page, f"SELECT id, ra, mag, name FROM {T} WHERE mag < 9 ORDER BY id")
    rows = grid(page)
    assert [int(r["id"]) for r in rows] == [12, 13, 15]
    assert [r["name"] for r in rows] == [ROWS[i][3] for i in (12, 13, 15)]

    # a bad query says what is wrong, and where
    run_and_wait(page, f"SELECT nosuch FROM {T}")
    message = page.inner_text('[data-testid="message"]')
    assert "nosuch" in message and "line 1" in message
    # where the result goes, in place of the last query's rows
    assert "nosuch" in page.inner_text('[data-testid="result-error"]')
    assert page.locator('[data-testid="grid"]').count() == 0

    # a local table uploaded and cross-matched against the catalogue within 5"
    local = Table(
        {
            "label": ["mine-a", "mine-b", "nowhere"],
            "ra": [0.0005, 45.0, 150.0],
            "dec": [0.0, 45.0005, 10.0],
        }
    )
    path = tmp_path / "mine.vot"
    local.write(path, format="votable")
    page.fill('[data-testid="upload-name"]', "mine")
    page.set_input_files('[data-testid="upload-file"]', str(path))
    page.wait_for_selector('[data-testid="uploads"]:has-text("TAP_UPLOAD.mine")')
    run_and_wait(
        page,
        f"SELECT u.label, s.id FROM TAP_UPLOAD.mine AS u JOIN {T} AS s ON "
        "1 = CONTAINS(POINT(s.ra, s.dec), CIRCLE(u.ra, u.dec, 5.0 / 3600)) "
        "ORDER BY u.label, s.id",
    )
    # mine-a is 1.8" from 1 and from 3, 5.4" from 2 (across RA 0); mine-b 1.8" from 12
    assert [(r["label"], int(r["id"])) for r in grid(page)] == [
        ("mine-a", 1),
        ("mine-a", 3),
        ("mine-b", 12),
    ]

    # the CSV download is the database's answer
    run_and_wait(page, f"SELECT id, ra, dec, mag FROM {T} ORDER BY id")
    with page.expect_download() as download:
        page.click('[data-download="csv"]')
    saved = tmp_path / "result.csv"
    download.value.save_as(saved)
    got = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [int(r["id"]) for r in got] == sorted(ROWS)
    assert [float(r["ra"]) for r in got] == [ROWS[i][0] for i in sorted(ROWS)]
    assert got[sorted(ROWS).index(11)]["mag"] == ""  # NULL stays empty

    # the same query as a job: it runs on the server, then opens in the grid
    run_and_wait(page, f"SELECT id FROM {T} WHERE dec < -50 ORDER BY id", mode="async")
    # this query's job (the list also holds the user's other jobs, newest first)
    mine = (
        '[data-testid="jobs"] tr[data-phase="COMPLETED"]:has(td.hnb-q[title*="dec < -50"]) '
        '[data-act="open_job"]'
    )
    page.wait_for_selector(mine, timeout=60_000)
    page.locator(mine).first.click()
    page.wait_for_selector('[data-testid="result"][data-source^="job"]')
    assert [int(r["id"]) for r in grid(page)] == [6, 7, 14]

    # a job submitted elsewhere (pyvo, TOPCAT) is resumed by its URL
    from hectornb.identity import process_user
    from hectornb.tap import TapService
    from hectornb.tap.uws import UwsJobStore

    store = UwsJobStore(TapService())
    other = store.create(process_user(), {"LANG": "ADQL", "QUERY": f"SELECT TOP 1 id FROM {T}"})
    page.fill('[data-testid="resume"]', f"{platform['base']}/hectornb/tap/async/{other.job_id}")
    page.click('[data-testid="resume-button"]')
    page.wait_for_selector(f'[data-testid="message"]:has-text("job {other.job_id} resumed")')
    assert page.locator(f'[data-testid="jobs"] tr[data-job="{other.job_id}"]').count() == 1
    page.fill('[data-testid="resume"]', "0123456789abcdef")
    page.click('[data-testid="resume-button"]')
    page.wait_for_selector('[data-testid="message"].hnb-error')
    store.delete(other.job_id, process_user())

    # positions sent to Classify as a new target list
    run_and_wait(page, f"SELECT name, ra, dec FROM {T} WHERE mag < 9")
    name = f"from-tap-{uuid.uuid4().hex[:6]}"
    page.fill('[data-testid="list-name"]', name)
    page.click('[data-testid="classify"]')
    page.wait_for_selector('[data-testid="classify-link"]')
    stored = {t["name"]: t for t in target_store().page(name, limit=100).targets}
    assert set(stored) == {ROWS[i][3] for i in (12, 13, 15)}
    assert stored["O'Neil's star"]["ra"] == pytest.approx(45.0)
    assert page.errors == []


def test_an_obscore_row_opens_its_spectrum_in_explore(browser_page, platform, tmp_path):
    """The reduced spectra in ObsCore: the TAP app names the SSA service, an ObsCore row
    has an "open in Explore" link, and following it opens that spectrum's product at its
    fibre in the Explore app."""
    from support.spectra import publish_products

    public = publish_products(tmp_path / "reduce")["public"]
    page = browser_page
    open_tap(page, platform)
    assert (
        page.get_attribute('[data-testid="ssa-url"]', "href")
        .split("?")[0]
        .endswith("/hectornb/ssa/")
    )
    run_and_wait(
        page,
        "SELECT obs_publisher_did, target_name FROM ivoa.obscore "
        f"WHERE obs_publisher_did = '{public['did']}'",
    )
    links = page.locator('[data-testid="open-in-explore"]')
    assert links.count() == 1
    href = links.get_attribute("href")
    # without the DID in the result, its DataLink URL (access_url) opens it too
    run_and_wait(
        page,
        "SELECT target_name, access_url FROM ivoa.obscore "
        f"WHERE obs_publisher_did = '{public['did']}'",
    )
    by_url = page.locator('[data-testid="open-in-explore"]').get_attribute("href")
    assert "spectrum=%2Fhectornb%2Fdatalink%2Flinks%3FID%3D" in by_url
    assert "/voila/render/explore.ipynb?spectrum=" in href
    page.goto(f"{platform['base']}{href}&token={platform['token']}")
    page.wait_for_selector('[data-testid="explore"][data-ready="true"]', timeout=60_000)
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=spectrum]') || {dataset: {}})"
        ".dataset.product?.includes('(fibre 1)')",
        timeout=60_000,
    )
    assert public["path"].name in page.inner_text('[data-testid="product"]')
    # leaving the TAP page aborts its own kernel's shutdown call: not a failure of Explore
    failed = [f for f in page.failed if "/voila/api/shutdown/" not in f]
    assert (page.errors, page.blocked, failed) == ([], [], [])
