"""The Obslog app in a real Chromium through Voilà: add a target and a tile, assign a bundle,
save, query the tile, download the CSV and compare it with the database."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from hectornb.obslog import ObslogStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def observer(platform):
    import requests

    me = requests.get(platform["base"] + "/hectornb/api/",
                      headers={"Authorization": f"token {platform['token']}"},
                      timeout=10).json()["user"]  # fmt: skip
    ObslogStore().set_observer(me)
    yield me
    ObslogStore().set_observer(me, False)


def open_obslog(page, platform):
    page.goto(f"{platform['base']}/voila/render/obslog.ipynb?token={platform['token']}")
    # ready: the home page has its counts and the user's role from the kernel
    page.wait_for_selector('[data-testid="obslog"][data-ready="true"] [data-view="home"] .hnb-card',
                           timeout=60_000)  # fmt: skip


def add_row(page, values: dict) -> None:
    page.click('button[data-act="add"]')
    for field, value in values.items():
        page.fill(f'.hnb-new input[data-field="{field}"]', str(value))
    page.click('button[data-act="save"]')


def test_add_target_and_tile_assign_bundle_query_and_csv(browser_page, platform, observer,
                                                          tmp_path):  # fmt: skip
    page = browser_page
    open_obslog(page, platform)
    assert "(observer)" in page.inner_text(".hnb-user")
    gid = uuid.uuid4().int >> 66
    tile_id = f"T-{gid % 10000}-150.1-2.2-2031-08-01"

    # a target, with a bad value first: the field is named, nothing stored
    page.click('button[data-detail="targets"]')
    page.wait_for_selector('[data-testid="page"][data-view="table"]')
    add_row(page, {"galaxy_id": gid, "ra": 400, "dec": 2.2})
    page.wait_for_selector('[data-testid="message"].hnb-error')
    assert "ra: must be between 0 and 360 deg" in page.inner_text('[data-testid="message"]')
    assert page.get_attribute('.hnb-new input[data-field="ra"]', "class") == "hnb-bad"
    page.fill('.hnb-new input[data-field="ra"]', "150.05")
    page.click('button[data-act="save"]')
    page.wait_for_selector(f'[data-testid="grid"] tr[data-id="{gid}"]')
    assert ObslogStore().get("targets", str(gid))["ra"] == 150.05

    # a cell edited is a new version; its history says who changed what; delete, restore
    row = page.locator(f'[data-testid="grid"] tr[data-id="{gid}"]')
    row.locator('td[data-field="z"]').dblclick()
    row.locator('td[data-field="z"] input').fill("0.0412")
    row.locator('td[data-field="z"] input').press("Enter")
    page.wait_for_selector(f'[data-testid="grid"] tr[data-id="{gid}"][data-version="2"]')
    assert ObslogStore().get("targets", str(gid))["z"] == 0.0412
    page.locator(f'[data-testid="grid"] tr[data-id="{gid}"] button[data-row="history"]').click()
    history = page.locator('[data-testid="history"] li')
    history.nth(1).wait_for()
    assert "version 2" in history.nth(1).inner_text() and "z null → 0.0412" in history.nth(
        1).inner_text()  # fmt: skip
    page.locator(f'[data-testid="grid"] tr[data-id="{gid}"] button[data-row="delete"]').click()
    page.wait_for_selector(f'[data-testid="grid"] tr[data-id="{gid}"]', state="detached")
    assert ObslogStore().get("targets", str(gid))["deleted"] is True
    page.check('[data-testid="show-deleted"]')
    page.locator(f'[data-testid="grid"] tr[data-id="{gid}"] button[data-row="restore"]').click()
    page.wait_for_selector(f'[data-testid="grid"] tr[data-id="{gid}"]', state="detached")
    assert ObslogStore().get("targets", str(gid))["version"] == 4
    page.uncheck('[data-testid="show-deleted"]')
    page.wait_for_selector(f'[data-testid="grid"] tr[data-id="{gid}"]')

    # a tile, then its page: assign bundle A to the target
    page.click('button[data-go="home"]')
    page.click('button[data-detail="tiles"]')
    page.wait_for_selector('[data-testid="page"][data-view="table"]')
    add_row(page, {"tile_id": tile_id, "ra": 150.1, "dec": 2.2, "date": "2031-08-01"})
    row = page.locator(f'[data-testid="grid"] tr[data-id="{tile_id}"]')
    row.wait_for()
    row.locator('td[data-field="tile_id"]').click()
    page.wait_for_selector('[data-testid="page"][data-view="related"]')
    page.select_option('[data-testid="assign"] select[name="bundle"]', "A")
    page.fill('[data-testid="assign"] input[name="member"]', str(gid))
    page.click('[data-testid="assign"] button')
    bundle = page.locator('[data-testid="bundles"] tr[data-bundle="A"]')
    bundle.wait_for()
    assert str(gid) in bundle.inner_text() and "150.05" in bundle.inner_text()
    stored = ObslogStore().get("tiles", tile_id)
    assert stored["bundles"]["A"] == {"kind": "target", "id": str(gid)}
    assert stored["version"] == 2

    # the tile is found from its target, as the query pages link them
    bundle.locator("a.hnb-go").click()
    page.wait_for_selector(f'h2:has-text("Target {gid}")')
    assert tile_id in page.inner_text('[data-testid="page"]')

    # the targets' CSV export is what the database holds
    page.click('button[data-go="home"]')
    page.click('button[data-detail="targets"]')
    page.wait_for_selector('[data-testid="page"][data-view="table"]')
    with page.expect_download() as download:
        page.click('[data-testid="csv"]')
    path = tmp_path / "targets.csv"
    download.value.save_as(path)
    rows = {r["galaxy_id"]: r for r in csv.DictReader(io.StringIO(path.read_text()))}
    everything = ObslogStore().every("targets", {})
    assert set(rows) == {str(t["galaxy_id"]) for t in everything}
    assert float(rows[str(gid)]["ra"]) == 150.05 and rows[str(gid)]["author"] == observer
    assert float(rows[str(gid)]["z"]) == 0.0412 and rows[str(gid)]["version"] == "4"

    # a log entry's night opens the Reduce app on that night's frames
    store = ObslogStore()
    store.create("logs", {"night": "2031-08-02", "comment": f"browser {gid}"}, observer)
    page.click('button[data-go="home"]')
    page.click('button[data-detail="logs"]')
    page.fill('[data-testid="search"]', f"browser {gid}")
    page.press('[data-testid="search"]', "Enter")
    page.wait_for_function("document.querySelectorAll('[data-testid=grid] tbody tr').length"
                           " === 1")  # fmt: skip
    link = page.locator('[data-testid="grid"] tr', has_text=f"browser {gid}").locator(
        "a.hnb-reduce-night")
    assert link.get_attribute("href").endswith("voila/render/reduce.ipynb?night=310802")

    # the API page: the short /api/target form, its query and JSON
    page.click('button[data-go="api"]')
    page.click('[data-testid="api"] button')
    page.wait_for_function("document.querySelector('[data-testid=json]').textContent.length > 0")
    assert page.inner_text('[data-testid="query"]').endswith("/hectornb/api/obslog/targets")
    assert '"total"' in page.inner_text('[data-testid="json"]')
    assert page.errors == [], page.errors
