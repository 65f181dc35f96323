"""A real data-centre deployment for the tests: JupyterHub (with configurable-http-proxy from
npm) run from ``deploy/jupyterhub_config.py`` as written, the hectornb service it manages, and
real Unix users.

- The platform is installed as a data centre would install it: a normal (not editable)
  install into a virtual environment of Debian's Python, which every Unix user can read.
- ``hectornb`` runs the service as its own Unix user, with its data directory (and the
  embedded PostgreSQL in it) readable by that user alone.
- ``alice`` and ``bob`` are real Unix users; their servers are started by the Hub's
  LocalProcessSpawner and run as them.
- The Hub signs people in with JupyterHub's DummyAuthenticator (one shared password): the
  one part not as a site would run it, since PAM passwords are the site's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
PROXY_BIN = Path(__file__).resolve().parent / "proxy" / "node_modules" / ".bin"
SYSTEM_PYTHON = "/usr/bin/python3"
PASSWORD = "hub-test-" + uuid.uuid4().hex[:8]
USERS = ("alice", "bob")
SERVICE_USER = "hectornb"


def why_not() -> str | None:
    """Why a Hub cannot be run here, or None."""
    if os.geteuid() != 0:
        return "needs root: JupyterHub's LocalProcessSpawner runs servers as real Unix users"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"needs {SYSTEM_PYTHON}, a Python every Unix user can run"
    if not (PROXY_BIN / "configurable-http-proxy").exists():
        return "needs configurable-http-proxy (npm ci in tests/support/proxy)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def ensure_users() -> None:
    for user in USERS:
        if subprocess.run(["id", user], capture_output=True).returncode:
            _run("useradd", "--create-home", "--shell", "/bin/bash", user)
    if subprocess.run(["id", SERVICE_USER], capture_output=True).returncode:
        _run(
            "useradd",
            "--system",
            "--create-home",
            "--home-dir",
            "/var/lib/hectornb",
            "--shell",
            "/usr/sbin/nologin",
            SERVICE_USER,
        )


def site_environment(root: Path) -> Path:
    """A virtual environment of Debian's Python with hectornb[hub] installed from this
    checkout (dependencies kept between runs while pyproject.toml is unchanged)."""
    digest = hashlib.sha1((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    cache = root / f"site-{digest}"
    if not (cache / ".complete").exists():
        shutil.rmtree(cache, ignore_errors=True)
        _run(SYSTEM_PYTHON, "-m", "venv", str(cache))
        _run(
            str(cache / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{REPO}[hub]",
            timeout=900,
        )
        (cache / ".complete").touch()
    else:  # this checkout's code, as a normal install
        _run(
            str(cache / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--force-reinstall",
            str(REPO),
            timeout=300,
        )
    cache.chmod(0o755)
    return cache


@dataclass
class Hub:
    url: str  # the Hub's public address (its proxy)
    root: Path  # the deployment's folder
    service_home: Path  # the service's data directory (mode 700, the service user's)
    site: Path  # the environment JupyterHub and hectornb are installed in
    log: Path

    @property
    def service(self) -> str:
        return f"{self.url}/services/hectornb"

    def login(self, user: str) -> requests.Session:
        """A browser-like session signed in to the Hub as ``user``."""
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30)
        r = s.post(
            f"{self.url}/hub/login",
            timeout=60,
            allow_redirects=False,
            data={"username": user, "password": PASSWORD, "_xsrf": s.cookies.get("_xsrf", "")},
        )
        assert r.status_code == 302, r.text
        return s

    def token(self, user: str) -> str:
        """A Hub API token of ``user`` (what JupyterHub gives a user's scripts)."""
        s = self.login(user)
        r = s.post(
            f"{self.url}/hub/api/users/{user}/tokens",
            json={"note": "test"},
            headers={"X-XSRFToken": s.cookies.get("_xsrf", "")},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def start_server(self, user: str, token: str, timeout: float = 120) -> str:
        """Start ``user``'s own server (as their Unix user); returns its URL."""
        headers = {"Authorization": f"token {token}"}
        r = requests.post(f"{self.url}/hub/api/users/{user}/server", headers=headers, timeout=60)
        assert r.status_code in (201, 202, 400), r.text  # 400: already running
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = requests.get(
                f"{self.url}/hub/api/users/{user}", headers=headers, timeout=30
            ).json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return f"{self.url}{server['url'].rstrip('/')}"
            time.sleep(0.5)
        raise RuntimeError(f"{user}'s server did not start:\n{self.log.read_text()[-4000:]}")

    def service_database_url(self) -> str:
        """The service's embedded PostgreSQL, as its own ``postmaster.pid`` says."""
        lines = (self.service_home / "postgres" / "postmaster.pid").read_text().splitlines()
        port, socket_dir = lines[3].strip(), lines[4].strip()
        return f"postgresql://postgres@/postgres?host={socket_dir}&port={port}"

    def as_service(self, *args: str) -> subprocess.CompletedProcess:
        """``hectornb ARGS`` run by the data centre's operator, as the service's user."""
        return subprocess.run(
            # only the service's own settings: none of this test process's environment
            [
                "runuser",
                "-u",
                SERVICE_USER,
                "--",
                "env",
                "-i",
                "LANG=C.UTF-8",
                f"PATH={self.site / 'bin'}:/usr/bin:/bin",
                f"HOME={self.service_home}",
                f"HECTORNB_HOME={self.service_home}",
                str(self.site / "bin" / "hectornb"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd="/",
        )


@contextlib.contextmanager
def running_hub(cache_root: Path, timeout: float = 300):
    """Deploy as docs/deploy.md says, start the Hub, wait for the service; stop it all after.
    Anyone may sign in with the password (the configuration lets every user the
    authenticator accepts in); only alice and bob have Unix accounts, hence servers."""
    ensure_users()
    cache_root.mkdir(parents=True, exist_ok=True)
    site = site_environment(cache_root)
    # a short path: the service's PostgreSQL socket lives in its data directory
    root = Path(tempfile.mkdtemp(prefix="hnbhub-", dir="/srv"))
    root.chmod(0o755)
    state, home = root / "state", root / "svc"
    state.mkdir(mode=0o700)
    home.mkdir(mode=0o700)
    shutil.chown(home, SERVICE_USER, SERVICE_USER)
    env_file = root / "service.env"
    # written as docs/deploy.md shows it, comments and all
    env_file.write_text(
        "# the service's settings\nHECTORNB_REDUCE_WORKERS=1   # one worker\n"
        "HECTORNB_POOL_SIZE=1\n"
        "HECTORNB_APP_KERNELS_PER_USER=3  # small, so the tests reach it\n"
    )
    env_file.chmod(0o600)
    port = _free_port()
    env = {
        "PATH": f"{PROXY_BIN}:{site / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(state),
        "HECTORNB_HUB_BIND_URL": f"http://127.0.0.1:{port}",
        "HECTORNB_HUB_API_PORT": str(_free_port()),
        "HECTORNB_SERVICE_PORT": str(_free_port()),
        "HECTORNB_SERVICE_HOME": str(home),
        "HECTORNB_HUB_STATE": str(state),
        "HECTORNB_SERVICE_ENV_FILE": str(env_file),
        "HECTORNB_DEMO": "1",
        "HECTORNB_PROXY_API_PORT": str(_free_port()),
    }
    log = root / "hub.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                str(site / "bin" / "jupyterhub"),
                "-f",
                str(REPO / "deploy" / "jupyterhub_config.py"),
                "--JupyterHub.authenticator_class=dummy",
                f"--DummyAuthenticator.password={PASSWORD}",
            ],
            cwd=state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{port}", root, home, site, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited:\n{log.read_text()[-6000:]}")
            with contextlib.suppress(requests.RequestException):
                r = requests.get(f"{hub.service}/hectornb/tap/availability", timeout=5)
                if r.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start:\n{log.read_text()[-6000:]}")
            time.sleep(0.5)
        yield hub
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for user in (*USERS, SERVICE_USER):  # servers and kernels the Hub left behind
            subprocess.run(["pkill", "-u", user], capture_output=True)
        time.sleep(1)
        for user in (*USERS, SERVICE_USER):
            subprocess.run(["pkill", "-9", "-u", user], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def kernel_run(server: str, token: str, code: str, timeout: float = 120) -> str:
    """Run ``code`` in a new kernel of a user's server (as a notebook would); its output."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}"}
    r = requests.post(f"{server}/api/kernels", headers=headers, json={}, timeout=60)
    assert r.status_code == 201, r.text
    kernel = r.json()["id"]

    async def execute() -> str:
        ws_url = server.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
        conn = await websocket_connect(HTTPRequest(ws_url, headers=headers))
        msg_id = uuid.uuid4().hex
        await conn.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                    },
                }
            )
        )
        out: list[str] = []
        while True:
            raw = await asyncio.wait_for(conn.read_message(), timeout)
            if raw is None:
                raise RuntimeError("the kernel's connection closed")
            if isinstance(raw, bytes):  # a widget's message with binary buffers: not output
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                out.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                conn.close()
                return "".join(out)

    try:
        return asyncio.run(execute())
    finally:
        requests.delete(f"{server}/api/kernels/{kernel}", headers=headers, timeout=30)


def terminal_run(server: str, token: str, command: str, timeout: float = 60) -> str:
    """Type ``command`` in a new terminal of a user's server (as in JupyterLab); the screen
    until it is done, ending with ``DONE-<its exit code>``."""
    import asyncio
    import re

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}"}
    r = requests.post(f"{server}/api/terminals", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    name = r.json()["name"]

    async def session() -> str:
        ws_url = server.replace("http", "ws", 1) + f"/terminals/websocket/{name}"
        conn = await websocket_connect(HTTPRequest(ws_url, headers=headers))
        # the marker is split in the typed line, so only its output matches
        await conn.write_message(json.dumps(["stdin", command + '; echo "DO""NE-$?"\r']))
        screen = ""
        deadline = asyncio.get_running_loop().time() + timeout
        while not re.search(r"DONE-\d+", screen):
            left = deadline - asyncio.get_running_loop().time()
            raw = await asyncio.wait_for(conn.read_message(), max(left, 0.1))
            if raw is None:
                break
            kind, *data = json.loads(raw)
            if kind == "stdout":
                screen += data[0]
        conn.close()
        return screen

    try:
        return asyncio.run(session())
    finally:
        requests.delete(f"{server}/api/terminals/{name}", headers=headers, timeout=30)
