"""The Classify app in a real Chromium, through Voilà, against the real database.

Offline, as at an observatory: the only network is loopback, and the sky view's Aladin Lite
comes from the platform.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from support.harness import chromium_path

from hectornb.identity import process_user
from hectornb.targets import export_csv

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None, reason="Chromium not installed (./dev.sh test installs it)"
    ),
]

TARGETS = """# a Hector-style list
NGC6337,17:22:15.67,-38:29:01.73
NGC5189,13:33:32.88,-65:58:27.04
NGC6326,17 20 46.252,-51 45 15.17
Te11,05 45 58.264,+02 21 06.41
next-to-Sirius,101.2900,-16.7190
ESO 123-4,10.5,-45.0
T07,20.0,-30.0
T08,21.0,-30.0
T09,22.0,-30.0
T10,23.0,-30.0
T11,24.0,-30.0
"""


def open_app(page, platform, query: str = ""):
    page.goto(f"{platform['base']}/voila/render/classify.ipynb?token={platform['token']}{query}")
    page.wait_for_selector('[data-testid="classify"][data-ready="true"]', timeout=60_000)


def card(page, name: str):
    return page.locator(f'.hnb-card[data-target="{name}"]')


def press_on(page, name: str, key: str) -> None:
    card(page, name).locator(".hnb-head").hover()
    page.keyboard.press(key)


def test_classify_from_the_keyboard_filter_jump_export(
    browser_page, platform, store, list_name, tmp_path
):
    page = browser_page
    open_app(page, platform)

    # import through the page's file chooser
    path = tmp_path / f"{list_name}.csv"
    path.write_text(TARGETS)
    page.set_input_files('[data-testid="file"]', str(path))
    page.click('[data-testid="load-file"]')
    page.wait_for_selector(f'[data-testid="message"]:has-text("{list_name}: 11 targets")')
    page.wait_for_selector('[data-testid="range"]:has-text("1–11 of 11")')

    # classify three targets from the keyboard: hover makes a card active, a digit sets it
    for name, key in (("NGC6337", "4"), ("NGC5189", "7"), ("Te11", "0")):
        press_on(page, name, key)
        page.wait_for_selector(f'.hnb-card[data-target="{name}"][data-badclass="{key}"]')
    # the legend names what the finder charts draw
    legend = page.inner_text('[data-testid="legend"]')
    for words in (
        "small hexabundle, 15.09″",
        "large hexabundle, 25.14″",
        "galaxy",
        "star",
        "dark sky: no sky images here (HECTORNB_CUTOUTS",
    ):
        assert words in legend, legend
    line = card(page, "NGC6337").locator('[data-testid="badclass"]').inner_text()
    assert re.match(r"BADCLASS: 4 [A-Za-z]", line), line  # the number once, then its meaning
    assert "Large galaxy" in line and "4 - " not in line
    page.wait_for_selector('[data-testid="progress"]:text-is("3 of 11 done")')
    for name, value in (("NGC6337", 4), ("NGC5189", 7), ("Te11", 0)):
        row = store.target(list_name, name)
        assert (row["badclass"], row["classified_by"]) == (value, process_user())

    # Backspace undoes the last one, in the database too
    card(page, "T07").locator(".hnb-head").hover()
    page.keyboard.press("Backspace")
    page.wait_for_selector('.hnb-card[data-target="Te11"][data-badclass=""]')
    assert store.target(list_name, "Te11")["badclass"] is None

    # the catalogue suggests class 1 for the target next to Sirius, without applying it
    page.wait_for_selector('.hnb-card[data-target="next-to-Sirius"] [data-testid="suggestion"]')
    assert store.target(list_name, "next-to-Sirius")["badclass"] is None

    # classification filter, then a name filter
    page.select_option('[data-testid="class-filter"]', "4")
    page.wait_for_function("document.querySelector('[data-testid=grid]')?.dataset.count === '1'")
    assert page.locator(".hnb-card").first.get_attribute("data-target") == "NGC6337"
    page.select_option('[data-testid="class-filter"]', "all")
    page.fill('[data-testid="name-filter"]', "NGC")
    page.wait_for_function("document.querySelector('[data-testid=grid]')?.dataset.count === '3'")
    page.fill('[data-testid="name-filter"]', "")
    page.wait_for_function("document.querySelector('[data-testid=grid]')?.dataset.count === '11'")

    # jump to a target on another page
    page.select_option('[data-testid="per-page"]', "5")
    page.wait_for_selector('[data-testid="range"]:has-text("1–5 of 11")')
    page.fill('[data-testid="jump"]', "T10")
    page.press('[data-testid="jump"]', "Enter")
    page.wait_for_selector('[data-testid="range"]:has-text("6–10 of 11")')
    page.wait_for_selector('.hnb-card.hnb-active[data-target="T10"]')
    page.keyboard.press("ArrowRight")
    page.wait_for_selector('[data-testid="range"]:has-text("11–11 of 11")')

    # help shows the input rules and the nine classes
    page.click('[data-testid="help-button"]')
    help_text = page.inner_text('[data-testid="help"]')
    assert "Each target name must be unique" in help_text
    assert "outside the hexabundle radius" in help_text
    page.click('[data-testid="help-ok"]')
    assert page.locator('[data-testid="help"]').is_hidden()

    # export: the downloaded CSV is what the database holds
    with page.expect_download() as info:
        page.click('[data-testid="download"]')
    downloaded = Path(info.value.path()).read_text()
    assert downloaded == export_csv(store, list_name)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(downloaded))}
    assert (rows["NGC5189"]["badclass"], rows["NGC5189"]["user"]) == ("7", process_user())
    # offline, with the sky view too: nothing failed and nothing was asked of the internet
    assert (page.errors, page.blocked, page.failed) == ([], [], [])


def test_bad_file_shows_every_error_and_stores_nothing(
    browser_page, platform, store, list_name, tmp_path
):
    page = browser_page
    open_app(page, platform)
    path = tmp_path / f"{list_name}.csv"
    path.write_text("A,1,2\nB,12:60:00,0\nA,3,4\nC,1\n")
    page.set_input_files('[data-testid="file"]', str(path))
    page.click('[data-testid="load-file"]')
    msg = page.wait_for_selector('[data-testid="message"].hnb-error')
    text = msg.inner_text()
    assert "nothing was stored" in text
    for line in (2, 3, 4):
        assert re.search(rf"{re.escape(path.name)}:{line}: ", text)
    assert list_name not in {li.name for li in store.lists()}


def test_shareable_link_and_aladin_view_offline(browser_page, platform, store, list_name):
    from hectornb.targets import parse_target_bytes

    store.import_list(parse_target_bytes(TARGETS.encode(), "t.csv"), list_name, "ann")
    page = browser_page
    survey = []
    page.on("response", lambda r: "/hectornb/hips/offline/" in r.url and survey.append(r))
    open_app(page, platform, f"&list={list_name}&target=T09&per_page=3")
    page.wait_for_selector('[data-testid="range"]:has-text("7–9 of 11")')
    page.wait_for_selector('.hnb-card.hnb-active[data-target="T09"]')
    # Aladin Lite, served by the platform, draws into a WebGL canvas beside the cards
    page.wait_for_selector(".aladin-container canvas", timeout=30_000)
    # offline its base layer is the platform's blank survey, so following the active card
    # (a retarget per card) works, with nothing asked of the internet
    for name in ("T07", "T08", "T09", "T08"):
        card(page, name).locator(".hnb-head").hover()
        page.wait_for_selector(f'.hnb-card.hnb-active[data-target="{name}"]')
        page.wait_for_timeout(400)
    page.wait_for_timeout(1000)
    served = {r.url.rsplit("/", 1)[1]: r.status for r in survey}
    assert served["properties"] == served["Moc.fits"] == served["Allsky.png"] == 200, served
    assert (page.blocked, page.failed, page.console_errors) == ([], [], [])


def test_card_details_hover_label_toggles_and_confirmed_delete(
    browser_page, platform, store, list_name
):
    from hectornb.targets import parse_target_bytes

    store.import_list(parse_target_bytes(TARGETS.encode(), "t.csv"), list_name, process_user())
    page = browser_page
    open_app(page, platform, f"&list={list_name}")
    sirius = card(page, "next-to-Sirius")
    star = sirius.locator(".hnb-src.hnb-star").first
    star.wait_for(timeout=30_000)

    # the label gives the radial distance and magnitude of the source under the mouse
    star.hover()
    tip = sirius.locator('[data-testid="tip"]').inner_text()
    assert re.fullmatch(r"r = \d+\.\d\d″; G = \d+\.\d\d mag", tip), tip
    assert sirius.locator(".hnb-bundle-small").count() == 1

    # footprint and catalogue toggles act on that card only
    sirius.locator('input[data-bundle="small"]').uncheck()
    assert card(page, "next-to-Sirius").locator(".hnb-bundle-small").count() == 0
    assert card(page, "NGC6337").locator(".hnb-bundle-small").count() == 1
    card(page, "next-to-Sirius").locator('input[data-catalogue="gaia"]').uncheck()
    assert card(page, "next-to-Sirius").locator(".hnb-src.hnb-star").count() == 0

    # delete asks first; cancelling keeps the list
    page.click('[data-testid="delete"]')
    assert list_name in page.inner_text('[data-testid="confirm"]')
    page.click('[data-testid="confirm"] button:has-text("Cancel")')
    assert list_name in {li.name for li in store.lists()}
    page.click('[data-testid="delete"]')
    page.click('[data-testid="confirm-delete"]')
    page.wait_for_selector(f'[data-testid="message"]:has-text("deleted {list_name}")')
    assert list_name not in {li.name for li in store.lists()}
    assert list_name not in page.inner_text('[data-testid="lists"]')


def test_reopening_a_list_resumes_at_the_last_classification(
    browser_page, platform, store, list_name
):
    from hectornb.targets import parse_target_bytes

    store.import_list(parse_target_bytes(TARGETS.encode(), "t.csv"), list_name, "ann")
    store.classify(list_name, "T09", 3, process_user())  # yesterday's session ended here
    page = browser_page
    open_app(page, platform, f"&list={list_name}&per_page=3")
    page.wait_for_selector('[data-testid="range"]:has-text("7–9 of 11")')
    page.wait_for_selector('.hnb-card.hnb-active[data-target="T09"]')
    page.wait_for_selector('[data-testid="message"]:has-text("resumed at T09")')
