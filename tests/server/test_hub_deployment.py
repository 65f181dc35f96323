"""The data-centre deployment, for real: JupyterHub from ``deploy/jupyterhub_config.py``, the
hectornb service it manages as its own Unix user, and two real users, alice and bob, whose
servers run as them (see tests/hub.py)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from support.hub import SERVICE_USER, kernel_run, running_hub, terminal_run, why_not

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(why_not() is not None, reason=why_not() or ""),
    pytest.mark.timeout(900),
]

API = "hectornb/api"


@pytest.fixture(scope="module")
def hub():
    with running_hub(Path("/srv/hectornb-hub-site")) as hub:
        yield hub


@pytest.fixture(scope="module")
def tokens(hub) -> dict[str, str]:
    return {user: hub.token(user) for user in ("alice", "bob")}


def _as(token: str) -> dict:
    return {"Authorization": f"token {token}"}


@pytest.fixture(scope="module")
def alice_job(hub, tokens) -> dict:
    """A reduction alice asked for (the operator made her a member of the demo's programme)."""
    programmes = hub.as_service("programme", "list")
    assert programmes.returncode == 0, programmes.stderr
    for line in programmes.stdout.splitlines():
        hub.as_service("programme", "set", line.split()[0], "--member", "alice")
    return _reduce_as(hub, tokens["alice"])


def test_landing_page_links_all_answer_for_the_signed_in_user(hub):
    alice = hub.login("alice")
    landing = alice.get(f"{hub.service}/hectornb/", timeout=60)
    assert landing.status_code == 200, hub.log.read_text()[-3000:]
    assert ">alice<" in landing.text
    links = re.findall(r'href="(/services/hectornb/[^"]+)"', landing.text)
    apps = [link for link in links if "voila/render/" in link]
    assert len(apps) == 5, links
    for link in links:
        page = alice.get(hub.url + link, timeout=120)
        assert page.status_code == 200, (link, page.text[:500])
    assert alice.get(f"{hub.service}/{API}/", timeout=30).json()["user"] == "alice"
    # five pages rendered and left (no browser connected to them): the service kept alice
    # to her 3 app kernels (this deployment's HECTORNB_APP_KERNELS_PER_USER) by stopping
    # her abandoned ones, oldest first, instead of letting each visit cost 300 MB for an hour
    kernels = subprocess.run(
        ["pgrep", "-u", SERVICE_USER, "-f", "ipykernel_launcher"], capture_output=True, text=True
    ).stdout.split()
    assert len(kernels) <= 3, kernels


def test_anonymous_callers_get_public_tap_tables_and_no_api(hub):
    assert requests.get(f"{hub.service}/{API}/", timeout=30).status_code == 403
    assert requests.get(f"{hub.service}/{API}/reduce/jobs", timeout=30).status_code == 403
    page = requests.get(f"{hub.service}/hectornb/", timeout=30, allow_redirects=False)
    assert page.status_code == 302 and "/hub/api/oauth2/authorize" in page.headers["Location"]
    r = requests.get(
        f"{hub.service}/hectornb/tap/sync",
        timeout=60,
        params={"LANG": "ADQL", "QUERY": "SELECT TOP 3 table_name FROM TAP_SCHEMA.tables"},
    )
    assert r.status_code == 200 and 'QUERY_STATUS" value="OK"' in r.text
    # the platform's own tables are for signed-in users only
    r = requests.get(
        f"{hub.service}/hectornb/tap/sync",
        timeout=60,
        params={"LANG": "ADQL", "QUERY": "SELECT COUNT(*) FROM obslog.runs"},
    )
    assert 'QUERY_STATUS" value="ERROR"' in r.text
    # nor may they make the service fetch URLs from inside the data centre
    r = requests.post(
        f"{hub.service}/hectornb/tap/sync",
        timeout=60,
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT * FROM TAP_UPLOAD.t",
            "UPLOAD": f"t,{hub.url}/hub/api/",
        },
    )
    assert "sign in to upload a table by URL" in r.text
    assert 'QUERY_STATUS" value="ERROR"' in r.text
    # no preheated kernels, so no request-passing socket for anyone to listen on
    assert (
        requests.get(
            f"{hub.service}/voila/query/{'0' * 8}-0000-0000-0000-{'0' * 12}", timeout=30
        ).status_code
        == 404
    )


def test_hub_tokens_and_platform_tokens_act_for_their_user_only(hub, tokens):
    for user, token in tokens.items():
        info = requests.get(f"{hub.service}/{API}/", headers=_as(token), timeout=30)
        assert info.json()["user"] == user
    made = requests.post(
        f"{hub.service}/{API}/tokens",
        json={"name": "script"},
        headers=_as(tokens["alice"]),
        timeout=30,
    )
    assert made.status_code == 201, made.text
    hnb = made.json()["token"]
    assert (
        requests.get(f"{hub.service}/{API}/", headers=_as(hnb), timeout=30).json()["user"]
        == "alice"
    )
    # a user's own server at a data centre serves no platform API: nothing to misuse there
    bob_server = hub.start_server("bob", tokens["bob"])
    r = requests.get(f"{bob_server}/{API}/", headers=_as(hnb), timeout=30)
    assert r.status_code in (403, 404)


def test_target_lists_shared_classifications_per_user_owner_deletes(hub, tokens):
    name = f"hub-{int(time.time())}"
    body = "# name,ra,dec\nTe11,05 45 58.264,+02 21 06.41\nNGC6337,17 22 15.670,-38 29 01.73\n"
    r = requests.post(
        f"{hub.service}/{API}/targets/lists",
        data=body.encode(),
        params={"filename": f"{name}.csv"},
        headers=_as(tokens["alice"]),
        timeout=60,
    )
    assert r.status_code == 201, r.text
    lists = requests.get(
        f"{hub.service}/{API}/targets/lists", headers=_as(tokens["bob"]), timeout=30
    ).json()["lists"]
    assert {"name": name, "owner": "alice"}.items() <= next(
        i for i in lists if i["name"] == name
    ).items()
    for user, value in (("alice", 2), ("bob", 5)):
        r = requests.put(
            f"{hub.service}/{API}/targets/lists/{name}/targets/Te11/badclass",
            json={"badclass": value},
            headers=_as(tokens[user]),
            timeout=30,
        )
        assert r.status_code == 200, r.text
    history = requests.get(
        f"{hub.service}/{API}/targets/lists/{name}/targets/Te11/history",
        headers=_as(tokens["bob"]),
        timeout=30,
    ).json()["history"]
    assert {(h["username"], h["badclass"]) for h in history} == {("alice", 2), ("bob", 5)}
    gone = requests.delete(
        f"{hub.service}/{API}/targets/lists/{name}", headers=_as(tokens["bob"]), timeout=30
    )
    assert gone.status_code == 403
    assert (
        requests.delete(
            f"{hub.service}/{API}/targets/lists/{name}", headers=_as(tokens["alice"]), timeout=30
        ).status_code
        == 204
    )


def test_alices_kernel_holds_no_secret_and_cannot_act_as_bob(hub, tokens):
    server = hub.start_server("alice", tokens["alice"])
    name = f"kernel-{int(time.time())}"
    r = requests.post(
        f"{hub.service}/{API}/targets/lists",
        params={"filename": f"{name}.csv"},
        data=b"Te11,05 45 58.264,+02 21 06.41\n",
        headers=_as(tokens["bob"]),
        timeout=60,
    )
    assert r.status_code == 201, r.text
    code = f"""
import json, os, subprocess, sys
secret = sorted(k for k in os.environ
                if any(w in k for w in ("DATABASE", "PASSWORD", "SECRET", "PGPASS", "SMTP")))
print("SECRETS", json.dumps(secret))
print("USER", os.environ.get("JUPYTERHUB_USER"), os.getuid())
import psycopg
try:
    psycopg.connect({hub.service_database_url()!r}, connect_timeout=5).close()
    print("DATABASE reached")
except Exception as exc:
    print("DATABASE refused:", type(exc).__name__)
from hectornb.client import ServiceClient
print("CLIENT", ServiceClient().user)
def cli(*args):
    p = subprocess.run([sys.executable, "-m", "hectornb", *args], capture_output=True, text=True)
    print("CLI", p.returncode, (p.stdout + p.stderr).strip().replace(chr(10), " | "))
cli("targets", "classify", {name!r}, "Te11", "7", "--user", "bob")
cli("targets", "classify", {name!r}, "Te11", "3")
cli("targets", "lists")
cli("reduce", "list", "--user", "bob")
cli("tap", "tables")
"""
    out = kernel_run(server, tokens["alice"], code)
    assert "SECRETS []" in out, out
    assert "USER alice" in out
    assert "DATABASE refused" in out, out
    assert "CLIENT alice" in out, out
    lines = [line for line in out.splitlines() if line.startswith("CLI ")]
    assert lines[0].startswith("CLI 1") and "knows you as alice" in lines[0], out
    assert lines[1] == "CLI 0 Te11: BADCLASS 3 (alice)", out
    assert name in lines[2] and "owner bob" in lines[2], out
    assert lines[3].startswith("CLI 1") and "knows you as alice" in lines[3], out
    # what only the service's operator does needs the database, which is not here
    assert lines[4].startswith("CLI 1") and "client of the hectornb service" in lines[4], out
    history = requests.get(
        f"{hub.service}/{API}/targets/lists/{name}/targets/Te11/history",
        headers=_as(tokens["bob"]),
        timeout=30,
    ).json()["history"]
    assert [(h["username"], h["badclass"]) for h in history] == [("alice", 3)]
    # and in a terminal of her JupyterLab, where the command is on the PATH as in a kernel
    screen = terminal_run(server, tokens["alice"], "hectornb targets lists")
    assert name in screen and "DONE-0" in screen, screen


def _reduce_as(hub, token: str) -> dict:
    frames = requests.get(
        f"{hub.service}/{API}/reduce/frames",
        headers=_as(token),
        params={"ndfclass": "MFOBJECT"},
        timeout=60,
    ).json()
    names = [f["file"] for f in frames["frames"]]
    assert names, frames
    r = requests.post(
        f"{hub.service}/{API}/reduce/jobs",
        json={"frames": names[:1]},
        headers=_as(token),
        timeout=60,
    )
    assert r.status_code == 201, r.text
    job = r.json()
    deadline = time.monotonic() + 300
    while job["status"] not in ("done", "partial", "failed", "cancelled"):
        assert time.monotonic() < deadline, job
        time.sleep(1)
        job = requests.get(
            f"{hub.service}/{API}/reduce/jobs/{job['id']}", headers=_as(token), timeout=30
        ).json()
    assert job["status"] == "done", job
    return job


def test_alices_reduction_and_private_table_are_hers_alone(hub, tokens, alice_job, tmp_path):
    job = alice_job
    url = f"{hub.service}/{API}/reduce/jobs/{job['id']}"
    ok = requests.get(f"{url}/download", headers=_as(tokens["alice"]), timeout=120)
    assert ok.status_code == 200 and ok.content[:2] == b"PK"
    bob_hnb = requests.post(
        f"{hub.service}/{API}/tokens",
        json={"name": "bob's script"},
        headers=_as(tokens["bob"]),
        timeout=30,
    ).json()["token"]
    for bob in (tokens["bob"], bob_hnb):
        jobs = requests.get(
            f"{hub.service}/{API}/reduce/jobs", headers=_as(bob), timeout=30
        ).json()["jobs"]
        assert job["id"] not in {j["id"] for j in jobs}
        for path in ("", "/events", "/download"):
            r = requests.get(url + path, headers=_as(bob), timeout=30)
            assert r.status_code in (403, 404), (path, r.status_code)
    # on disk the products are the service's: no user reads them, not even their owner
    products = hub.service_home / "reduce"
    assert any(products.rglob("*.fits")), list(hub.service_home.iterdir())
    for user in ("alice", "bob"):
        ls = subprocess.run(
            ["runuser", "-u", user, "--", "ls", str(products)], capture_output=True, text=True
        )
        assert ls.returncode != 0 and "Permission denied" in ls.stderr
    # a table published for alice alone
    table = tmp_path / "mine.csv"
    table.write_text("ra,dec,note\n10.0,-5.0,secret\n")
    (hub.root / "mine.csv").write_bytes(table.read_bytes())
    subprocess.run(["chmod", "644", str(hub.root / "mine.csv")], check=True)
    done = hub.as_service(
        "tap",
        "ingest",
        str(hub.root / "mine.csv"),
        "--table",
        "alice_work.mine",
        "--private",
        "--user",
        "alice",
    )
    assert done.returncode == 0, done.stderr
    query = {"LANG": "ADQL", "QUERY": "SELECT note FROM alice_work.mine"}
    mine = requests.get(
        f"{hub.service}/hectornb/tap/sync", params=query, headers=_as(tokens["alice"]), timeout=60
    )
    assert "secret" in mine.text
    for headers in (_as(tokens["bob"]), _as(bob_hnb), {}):
        r = requests.get(
            f"{hub.service}/hectornb/tap/sync", params=query, headers=headers, timeout=60
        )
        assert "secret" not in r.text and 'QUERY_STATUS" value="ERROR"' in r.text
        tables = requests.get(f"{hub.service}/hectornb/tap/tables", headers=headers, timeout=60)
        assert "alice_work.mine" not in tables.text


def test_service_files_are_the_service_users_alone(hub):
    stat = hub.service_home.stat()
    assert oct(stat.st_mode & 0o777) == "0o700"
    import pwd

    assert pwd.getpwuid(stat.st_uid).pw_name == SERVICE_USER
    for user in ("alice", "bob"):
        ls = subprocess.run(
            ["runuser", "-u", user, "--", "ls", str(hub.service_home)],
            capture_output=True,
            text=True,
        )
        assert ls.returncode != 0


def test_the_five_apps_run_as_the_signed_in_user_in_chromium(hub, tokens):
    from playwright.sync_api import sync_playwright
    from support.harness import chromium_path, launch, offline

    if chromium_path() is None:
        pytest.skip("Chromium not installed (./dev.sh test installs it)")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        offline(page)
        errors: list[str] = []
        # what a page throws while it is being left (Voilà shuts its kernel down first) no
        # one sees; every other error counts
        leaving = {"now": False}
        page.on("pageerror", lambda exc: leaving["now"] or errors.append(str(exc)))
        page.goto(f"{hub.service}/hectornb/")  # the Hub's sign-in, then back here
        page.fill("#username_input", "alice")
        page.fill("#password_input", hub_password())
        page.click("#login_submit")
        page.wait_for_url(f"{hub.service}/hectornb/", timeout=60_000)
        shown = {
            "classify": '[data-testid="user"]',
            "reduce": '[data-testid="reduce"] .hnb-user',
            "obslog": '[data-testid="obslog"] .hnb-user',
            "tap": ".hnb-user",
        }
        for app in ("classify", "reduce", "explore", "obslog", "tap"):
            page.click(f'a[href$="voila/render/{app}.ipynb"]')
            page.wait_for_selector(shown.get(app, f'[data-testid="{app}"]'), timeout=90_000)
            if app in shown:
                page.wait_for_function(
                    "s => (document.querySelector(s)?.textContent || '').includes('alice')",
                    arg=shown[app],
                    timeout=30_000,
                )
            assert page.locator(".voila-error").count() == 0, app
            if app == "classify":  # a key press is stored as alice's classification
                page.wait_for_selector('[data-testid="classify"][data-ready="true"]')
                name = page.locator(".hnb-card").first.get_attribute("data-target")
                list_name = page.locator('[data-testid="lists"]').input_value()
                page.locator(".hnb-card").first.locator(".hnb-head").hover()
                page.keyboard.press("6")
                page.wait_for_selector(
                    f'.hnb-card[data-target="{name}"][data-badclass="6"]', timeout=30_000
                )
                history = requests.get(
                    f"{hub.service}/{API}/targets/lists/{list_name}/targets/{name}/history",
                    headers=_as(tokens["bob"]),
                    timeout=30,
                ).json()["history"]
                assert ("alice", 6) in {(h["username"], h["badclass"]) for h in history}
                # the page's kernel is alice's alone: bob, knowing its id, gets nowhere
                kernel = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content()).group(1)
                bob = hub.login("bob")
                bob.get(f"{hub.service}/hectornb/", timeout=60)  # signed in to the service
                api = f"{hub.service}/api/kernels/{kernel}"
                assert bob.get(api, timeout=30).status_code == 404
                xsrf = next(
                    (
                        c.value
                        for c in bob.cookies
                        if c.name == "_xsrf" and c.path.startswith("/services/hectornb")
                    ),
                    "",
                )
                assert bob.delete(api, timeout=30, headers={"X-XSRFToken": xsrf}).status_code == 404
                ws = bob.get(
                    f"{api}/channels",
                    timeout=30,
                    headers={
                        "Connection": "Upgrade",
                        "Upgrade": "websocket",
                        "Sec-WebSocket-Version": "13",
                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    },
                )
                assert ws.status_code in (403, 404), ws.status_code
                assert page.request.get(api).status == 200  # alice's own browser
                # and its traffic goes over sockets in a folder of the service's alone
                assert_kernels_private()
            leaving["now"] = True
            page.go_back()
            page.wait_for_url(f"{hub.service}/hectornb/", timeout=60_000)
            leaving["now"] = False
        browser.close()
    # offline, every app whole: no JS error, nothing asked of the internet
    assert (errors, page.blocked) == ([], [])


def hub_password() -> str:
    from support.hub import PASSWORD

    return PASSWORD


def test_the_apps_in_alices_own_jupyterlab_are_clients_of_the_service(hub, tokens, alice_job):
    """The widgets and the command line in alice's server: everything through the service's
    API with her own Hub token, Explore reading her products as the service streams them."""
    server = hub.start_server("alice", tokens["alice"])
    name = f"lab-{int(time.time())}"
    code = f"""
import subprocess, sys, tempfile
from pathlib import Path
from hectornb.widgets import ClassifyApp, ObslogApp, ReduceApp, SpectrumExplorer, TapApp
path = Path(tempfile.mkdtemp()) / "{name}.csv"
path.write_text("Te11,05 45 58.264,+02 21 06.41\\nNGC6337,17 22 15.670,-38 29 01.73\\n")
p = subprocess.run([sys.executable, "-m", "hectornb", "targets", "import", str(path)],
                   capture_output=True, text=True)
print("IMPORT", p.returncode, p.stdout.strip(), p.stderr.strip())
c = ClassifyApp(list_name={name!r}, catalogues=())
c.classify("NGC6337", 4)
print("CLASSIFY", c.user, c.total, c.progress)
r = ReduceApp(job={alice_job["id"]!r})
print("REDUCE", r.user, r.job["status"], len(r.query({{"ndfclass": "MFOBJECT"}})) > 0,
      r.service_api)
p = subprocess.run([sys.executable, "-m", "hectornb", "reduce", "list"], capture_output=True,
                   text=True)
print("RLIST", p.returncode, {alice_job["id"]!r} in p.stdout)
e = SpectrumExplorer(job={alice_job["id"]!r})
print("EXPLORE", e.user, e.summary.get("n_fibres"), e.product)
pdf = path.with_name("night.pdf")
p = subprocess.run([sys.executable, "-m", "hectornb", "obslog", "report", "2025-10-01", "-o",
                    str(pdf)], capture_output=True, text=True)
print("REPORT", p.returncode, pdf.read_bytes()[:4] if pdf.exists() else p.stderr)
o = ObslogApp()
o.home()
print("OBSLOG", o.user, o.observer, o.counts.get("logs", 0) > 0)
t = TapApp()
t.connect()
res = t.run("SELECT TOP 2 table_name FROM TAP_SCHEMA.tables")
print("TAP", t.user, t.service, len(res.table))
"""
    out = kernel_run(server, tokens["alice"], code, timeout=240)
    got = {line.split()[0]: line for line in out.splitlines() if line[:1].isupper()}
    assert got.get("IMPORT", "").startswith(f"IMPORT 0 {name}: 2 targets"), out
    assert got.get("CLASSIFY") == "CLASSIFY alice 2 {'done': 1, 'total': 2}", out
    assert got.get("REDUCE") == "REDUCE alice done True /services/hectornb/hectornb/api/", out
    assert got.get("RLIST") == "RLIST 0 True", out
    explore = got.get("EXPLORE", "").split()
    assert explore[:2] == ["EXPLORE", "alice"] and int(explore[2]) > 0, out
    assert got.get("OBSLOG") == "OBSLOG alice False True", out
    assert got.get("REPORT") == "REPORT 0 b'%PDF'", out
    assert got.get("TAP") == "TAP alice this platform 2", out
    # the service stored it all as alice's
    r = requests.get(
        f"{hub.service}/{API}/targets/lists/{name}/targets/NGC6337/history",
        headers=_as(tokens["bob"]),
        timeout=30,
    )
    assert [(h["username"], h["badclass"]) for h in r.json()["history"]] == [("alice", 4)]


def assert_kernels_private() -> None:
    """The service's kernels talk over IPC sockets in a folder only its user can enter (over
    loopback TCP any local user could subscribe to a kernel's output)."""
    import json as _json
    import pwd

    import psutil

    found = 0
    for proc in psutil.process_iter(["username", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if proc.info["username"] != SERVICE_USER or "ipykernel_launcher" not in " ".join(cmd):
            continue
        connection = Path(cmd[cmd.index("-f") + 1])
        info = _json.loads(connection.read_text())
        assert info["transport"] == "ipc", info
        folder = connection.parent.stat()
        assert pwd.getpwuid(folder.st_uid).pw_name == SERVICE_USER
        assert folder.st_mode & 0o077 == 0, oct(folder.st_mode)
        found += 1
    assert found, "no kernel of the service is running"
