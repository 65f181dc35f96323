"""Engines, built-in tasks and apps are each declared once, and everything that lists them
(the step plan, the API's schema, the notebooks, the landing page, ``hectornb.widgets``) is
made from those declarations."""

from __future__ import annotations

import json

import pytest

import hectornb.widgets as widgets
from hectornb.errors import Invalid
from hectornb.reduce import steps
from hectornb.reduce.builtin import runner as builtin
from hectornb.reduce.engines import ENGINES, engine_resources, engine_version, parse_engine
from hectornb.widgets.registry import APPS, notebook_text, shipped_notebooks


def test_the_shipped_notebooks_are_the_declared_apps():
    shipped = sorted(p.name for p in shipped_notebooks().glob("*.ipynb"))
    assert shipped == sorted(app.notebook_name for app in APPS)
    for app in APPS:
        text = (shipped_notebooks() / app.notebook_name).read_text(encoding="utf-8")
        assert text == notebook_text(app), (
            f"{app.notebook_name} differs from its declaration; rewrite the notebooks with "
            "hectornb.widgets.registry.write_notebooks()"
        )


def test_each_apps_page_is_importable_from_the_widgets_package():
    for app in APPS:
        page = getattr(widgets, app.page)
        assert callable(page) and page.__module__ == f"hectornb.widgets{app.module}"
        code = json.loads(notebook_text(app))["cells"][-1]["source"]
        assert f"{app.page}()" in "".join(code)


def test_the_built_in_engine_has_every_task_a_plan_can_hold():
    assert set(builtin.TASKS) == set(steps.TASKS)


@pytest.mark.parametrize("engine", ENGINES.values(), ids=lambda e: e.name)
def test_each_engines_runner_resolves(engine):
    import importlib

    module, _, function = engine.runner.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_engine_names_and_versions_are_checked_against_the_registry():
    assert parse_engine("builtin@0.4.1")[0] is ENGINES["builtin"]
    assert parse_engine("2dfdr-docker@v6.46")[1] == "v6.46"
    # a trailing "@" is no version: it would name the same engine as another request
    for bad in ("2dfdr@6.46", "idl", "2dfdr-docker@-x", "builtin@ 1", "2dfdr-docker@", "2dfdr@"):
        with pytest.raises(Invalid):
            parse_engine(bad)
    assert engine_resources("builtin@0.4.1") == {"hectornb-0.4.1": 1}
    assert engine_resources("2dfdr-docker@v1") is None and engine_resources("builtin") is None
    assert engine_version("builtin", "0.9") == "builtin@0.9"
    assert engine_version("2dfdr", "0.9") == "2dfdr"
