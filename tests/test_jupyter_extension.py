"""The server extension inside a plain Jupyter server (as in JupyterLab or a JupyterHub
single-user server), enabled by the config file the wheel installs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent
PREFIX = "/user/hub-user-42/"  # the URL prefix JupyterHub gives a user's server


@pytest.fixture()
def jupyter_server(database_url, tmp_path, free_port):
    confd = tmp_path / "config" / "jupyter_server_config.d"
    confd.mkdir(parents=True)
    shutil.copy(REPO / "extensions" / "jupyter_server_config.d" / "hectornb.json", confd)
    port, token = free_port, uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(tmp_path / "config"),
        "JUPYTER_TOKEN": token,
        "JUPYTERHUB_USER": "hub-user-42",  # what a JupyterHub single-user server carries
    }
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={port}",
                f"--ServerApp.base_url={PREFIX}",
                f"--ServerApp.root_dir={REPO / 'notebooks'}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}{PREFIX}".rstrip("/")
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{log.read_text()}")
        try:
            if requests.get(f"{base}/api/status?token={token}", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield base, token, log
    proc.terminate()
    proc.wait(20)


def test_extension_serves_api_landing_and_voila_apps(jupyter_server):
    base, token, log = jupyter_server
    info = requests.get(f"{base}/hectornb/api/?token={token}", timeout=10)
    assert info.status_code == 200, log.read_text()
    # the user of a Hub single-user server is the Hub's user, not the process owner
    assert info.json()["user"] == "hub-user-42"
    assert requests.get(f"{base}/hectornb/api/", timeout=10).status_code == 403
    landing = requests.get(f"{base}/hectornb/?token={token}", timeout=10)
    assert "voila/render/classify.ipynb" in landing.text
    page = requests.get(f"{base}/voila/render/classify.ipynb?token={token}", timeout=120)
    assert page.status_code == 200
    assert "application/vnd.jupyter.widget-view+json" in page.text


def test_offline_sky_survey_is_served_under_the_servers_prefix(jupyter_server, monkeypatch):
    from hectornb.widgets.sky import base_survey

    base, _, log = jupyter_server
    # what a kernel of this server is told (its environment carries the prefix)
    monkeypatch.setenv("HECTORNB_SERVER_BASE_URL", PREFIX)
    survey = base_survey("offline")
    assert survey == "/user/hub-user-42/hectornb/hips/offline"
    origin = base.split("/user/")[0]
    props = requests.get(f"{origin}{survey}/properties", timeout=10)
    assert props.status_code == 200, log.read_text()
    assert "hips_frame           = equatorial" in props.text
    tile = requests.get(f"{origin}{survey}/Norder0/Dir0/Npix5.png", timeout=10)
    assert tile.headers["Content-Type"] == "image/png"
    # a named survey is used as given, whatever the network
    assert base_survey("P/2MASS/color") == "P/2MASS/color"


def test_tap_service_under_the_servers_prefix(jupyter_server):
    import pyvo

    base, token, log = jupyter_server
    caps = requests.get(f"{base}/hectornb/tap/capabilities", timeout=30)
    assert caps.status_code == 200, log.read_text()
    assert f"<accessURL use=\"base\">{base}/hectornb/tap</accessURL>" in caps.text
    tap = pyvo.dal.TAPService(f"{base}/hectornb/tap")
    assert len(tap.run_sync("SELECT TOP 3 table_name FROM TAP_SCHEMA.tables")) == 3
    # the Hub's user, signed in with the server's token, sees the platform's own tables
    me = requests.get(f"{base}/hectornb/tap/sync", params={
        "LANG": "ADQL", "QUERY": "SELECT COUNT(*) AS n FROM obslog.runs", "token": token},
        timeout=30)  # fmt: skip
    assert me.status_code == 200, me.text
    anonymous = requests.get(f"{base}/hectornb/tap/sync", params={
        "LANG": "ADQL", "QUERY": "SELECT COUNT(*) AS n FROM obslog.runs"}, timeout=30)
    assert anonymous.status_code == 400
