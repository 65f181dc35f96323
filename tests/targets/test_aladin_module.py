"""The Aladin Lite the platform serves is the one ipyaladin was written against."""

from __future__ import annotations

from hectornb.widgets.aladin import ALADIN_LITE_VERSION, aladin_class, aladin_lite_dir, cdn_version


def test_the_shipped_aladin_lite_is_the_version_ipyaladin_imports():
    from ipyaladin import Aladin

    assert cdn_version(str(Aladin._esm)) == ALADIN_LITE_VERSION
    shipped = (aladin_lite_dir() / "aladin.js").read_text("utf-8")
    assert f'"{ALADIN_LITE_VERSION}"' in shipped  # the build's own version constant
    assert (
        (aladin_lite_dir() / "LICENSE")
        .read_text()
        .startswith("                   GNU LESSER GENERAL PUBLIC LICENSE")
    )


def test_the_widget_imports_aladin_lite_from_the_page_server_not_a_cdn():
    module = aladin_class()._esm
    assert "esm.sh" not in module
    assert 'baseUrl() + "hectornb/static/aladin-lite/aladin.js"' in module
