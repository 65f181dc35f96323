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

    me = requests.get(
        platform["base"] + "/hectornb/api/",
        headers={"Authorization": f"token {platform['token']}"},
        timeout=10,
    ).json()["user"]
    ObslogStore().set_observer(me)
    yield me
    ObslogStore().set_observer(me, False)


def open_obslog(page, platform):
    page.goto(f"{platform['base']}/voila/render/obslog.ipynb?token={platform['token']}")
    # ready: the home page has its counts and the user's role from the kernel
    page.wait_for_selector(
        '[data-testid="obslog"][data-ready="true"] [data-view="home"] .hnb-card', timeout=60_000
    )


def add_row(page, values: dict) -> None:
    page.click('button[data-act="add"]')
    for field, value in values.items():
        page.fill(f'.hnb-new input[data-field="{field}"]', str(value))
    page.click('button[data-act="save"]')


def test_add_target_and_tile_assign_bundle_query_and_csv(
    browser_page, platform, observer, tmp_path
):
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
    assert (
        "version 2" in history.nth(1).inner_text()
        and "z null → 0.0412" in history.nth(1).inner_text()
    )
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
    page.wait_for_function("document.querySelectorAll('[data-testid=grid] tbody tr').length === 1")
    link = page.locator('[data-testid="grid"] tr', has_text=f"browser {gid}").locator(
        "a.hnb-reduce-night"
    )
    assert link.get_attribute("href").endswith("voila/render/reduce.ipynb?night=310802")

    # the API page: the short /api/target form, its query and JSON
    page.click('button[data-go="api"]')
    page.click('[data-testid="api"] button')
    page.wait_for_function("document.querySelector('[data-testid=json]')?.textContent.length > 0")
    assert page.inner_text('[data-testid="query"]').endswith("/hectornb/api/obslog/targets")
    assert '"total"' in page.inner_text('[data-testid="json"]')
    assert page.errors == [], page.errors


@pytest.mark.parametrize("width,height", [(1400, 1000), (1920, 900)])
def test_the_log_grid_scrolls_inside_itself_with_ids_and_actions_in_view(
    browser_page, platform, observer, width, height
):
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    night = f"2032-0{uuid.uuid4().int % 9 + 1}-1{uuid.uuid4().int % 9}"
    ObslogStore().create(
        "logs",
        {"night": night, "time": "11:05", "comment": "x" * 300, "weather": "clear"},
        observer,
    )
    open_obslog(page, platform)
    page.click('button[data-detail="logs"]')
    page.wait_for_selector('[data-testid="grid"] tbody tr')
    nav = page.locator(".hnb-obslog-nav").bounding_box()

    # one header per column, every one named but the pick box's
    heads = page.locator('[data-testid="grid"] thead th').all_inner_texts()
    assert heads[0] == "" and all(heads[1:]) and len(set(heads)) == len(heads), heads
    assert heads[1] == "log_id" and heads[-1] == "actions"
    # each row's pick box shows in its own column, not under the sticky id column
    pick = page.locator('tbody tr:first-child td:first-child input[type="checkbox"]')
    b = pick.bounding_box()
    assert page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y) === document.querySelector("
        "'tbody tr:first-child td:first-child input[type=checkbox]')",
        [b["x"] + b["width"] / 2, b["y"] + b["height"] / 2],
    )

    # the row actions are in view at once, at the grid's right edge, inside the window
    grid = page.locator('[data-testid="grid-scroll"]').bounding_box()
    delete = page.locator('tbody tr:first-child button[data-row="delete"]').bounding_box()
    assert delete["x"] + delete["width"] <= min(grid["x"] + grid["width"], width)

    # the wheel with shift scrolls the grid sideways, and only the grid (when it is wider
    # than the window: at 1920 px it may fit)
    scroller = '[data-testid="grid-scroll"]'
    if page.evaluate(f"(e => e.scrollWidth > e.clientWidth)(document.querySelector('{scroller}'))"):
        page.mouse.move(grid["x"] + grid["width"] / 2, grid["y"] + 30)
        page.keyboard.down("Shift")
        page.mouse.wheel(0, 600)
        page.keyboard.up("Shift")
        page.wait_for_function(f"document.querySelector('{scroller}').scrollLeft > 0")
    else:
        assert width == 1920  # at 1400 px the grid is wider than the window
    # a far cell's input gets focus: the grid brings it into view, nothing else moves
    page.click('button[data-act="add"]')
    far = page.locator('.hnb-new [data-field="tags"]')
    far.focus()
    assert page.locator(".hnb-obslog-nav").bounding_box() == nav
    assert (
        page.evaluate("""() => { let moved = 0;
        for (let e = document.querySelector('[data-testid=grid-scroll]').parentElement; e;
             e = e.parentElement) moved += e.scrollLeft;
        return moved + window.scrollX; }""")
        == 0
    )
    box, grid = far.bounding_box(), page.locator(scroller).bounding_box()
    assert grid["x"] <= box["x"] and box["x"] + box["width"] <= grid["x"] + grid["width"]

    # choices are dropdowns; a UT time of the night is taken as typed
    assert page.locator('.hnb-new select[data-field="transparency"] option').all_inner_texts() == [
        "",
        "photometric",
        "clear",
        "thin cloud",
        "thick cloud",
        "closed",
    ]
    assert page.get_attribute('.hnb-new input[data-field="time"]', "placeholder") == "hh:mm UT"
    page.fill('.hnb-new input[data-field="night"]', night)
    page.fill('.hnb-new input[data-field="time"]', "10:30")
    page.select_option('.hnb-new select[data-field="qc"]', "pending")
    page.click('button[data-act="save"]')
    page.wait_for_selector('[data-testid="message"].hnb-ok')
    saved = [g for g in ObslogStore().every("logs", {"night": [night]}) if g["qc"] == "pending"]
    assert len(saved) == 1 and saved[0]["time"].isoformat() == f"{night}T10:30:00+00:00"
    row = page.locator(f'[data-testid="grid"] tr[data-id="{saved[0]["log_id"]}"]')
    assert row.locator('td[data-field="time"]').inner_text() == "10:30:00"

    # a column is made wider by dragging its header's edge
    comment = page.locator('thead th[data-col="comment"]')
    comment.scroll_into_view_if_needed()
    before = comment.bounding_box()
    handle = page.locator('thead th[data-col="comment"] .hnb-resize').bounding_box()
    page.mouse.move(handle["x"] + 2, handle["y"] + 5)
    page.mouse.down()
    page.mouse.move(handle["x"] + 160, handle["y"] + 5, steps=4)
    page.mouse.up()
    assert comment.bounding_box()["width"] > before["width"] + 100
    assert page.locator(".hnb-obslog-nav").bounding_box() == nav
    assert (page.errors, page.blocked, page.failed) == ([], [], [])
