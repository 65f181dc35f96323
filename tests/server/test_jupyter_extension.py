"""The server extension inside a plain Jupyter server (as in JupyterLab or a JupyterHub
single-user server), enabled by the config file the package installs, editable or not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/user/hub-user-42/"  # the URL prefix JupyterHub gives a user's server


@pytest.fixture()
def jupyter_server(database_url, tmp_path, free_port):
    # the extension is enabled by what installing the package put in the environment
    port, token = free_port, uuid.uuid4().hex
    env = {
        **os.environ,
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
                f"--ServerApp.root_dir={tmp_path}",  # a user's folder, with no app in it
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
    # the apps come from the package, whatever folder the server was started in
    links = re.findall(r'href="([^"]*hectornb/apps/[a-z]+\.ipynb)"', landing.text)
    assert len(links) == 5, landing.text
    origin = base.split(PREFIX.rstrip("/"))[0]
    for link in links:
        page = requests.get(f"{origin}{link}?token={token}", timeout=120)
        assert page.status_code == 200, (link, log.read_text()[-3000:])
        assert "application/vnd.jupyter.widget-view+json" in page.text
        # the page loads nothing from the internet: no CDN stylesheet, script or MathJax
        assert not [
            u
            for u in re.findall(r'(?:href|src)="([^"]+)"', page.text)
            if u.startswith(("http:", "https:", "//"))
        ], link
        assert '"fullMathjaxUrl": null' in page.text


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
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    caps = session.get(f"{base}/hectornb/tap/capabilities", timeout=30)
    assert caps.status_code == 200, log.read_text()
    assert f'<accessURL use="base">{base}/hectornb/tap</accessURL>' in caps.text
    tap = pyvo.dal.TAPService(f"{base}/hectornb/tap", session=session)
    assert len(tap.run_sync("SELECT TOP 3 table_name FROM TAP_SCHEMA.tables")) == 3
    # the Hub's user, signed in with the server's token, sees the platform's own tables
    me = requests.get(
        f"{base}/hectornb/tap/sync",
        params={"LANG": "ADQL", "QUERY": "SELECT COUNT(*) AS n FROM obslog.runs", "token": token},
        timeout=30,
    )
    assert me.status_code == 200, me.text
    # one Hub user's own server is no public endpoint: anonymous callers are refused
    anonymous = requests.get(
        f"{base}/hectornb/tap/sync",
        params={"LANG": "ADQL", "QUERY": "SELECT TOP 1 table_name FROM TAP_SCHEMA.tables"},
        timeout=30,
    )
    assert anonymous.status_code == 403
    assert "sign in" in anonymous.text


def test_an_editable_install_enables_the_extension_and_finds_the_apps(
    tmp_path, free_port, database_url
):
    """``pip install -e .`` in a fresh environment, as a developer or Binder does."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    # the dependencies are this suite's own (no network, seconds not minutes); hectornb and
    # its Jupyter configuration come from the editable install alone
    here = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(site.stdout.strip(), "suite-dependencies.pth").write_text(here.stdout)
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-e",
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (venv / "etc/jupyter/jupyter_server_config.d/hectornb.json").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    # ... and so are their data files (Voilà's templates, the widgets' front ends)
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    listed = subprocess.run(
        [str(python), "-m", "jupyter_server", "extension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = listed.stdout + listed.stderr
    assert re.search(r"hectornb\s+(\x1b\[\d+m)?enabled", text), text
    token = uuid.uuid4().hex
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.Popen(
        [
            str(python),
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={free_port}",
            f"--ServerApp.root_dir={home}",
        ],
        env={**env, "JUPYTER_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{free_port}"
        for _ in range(300):
            try:
                if requests.get(f"{base}/hectornb/api/?token={token}", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert requests.get(f"{base}/hectornb/api/?token={token}", timeout=10).status_code == 200
        app = requests.get(f"{base}/hectornb/apps/tap.ipynb?token={token}", timeout=120)
        assert app.status_code == 200 and "widget-view+json" in app.text
    finally:
        proc.terminate()
        proc.wait(20)
