"""Hostile TAP uploads against a real ``hectornb serve``: what used to freeze or exhaust the
server is refused with a reason, or read in a child process while the server keeps
answering everyone else. Latency of an unrelated request and the server's memory are
measured while the hostile request runs."""

from __future__ import annotations

import concurrent.futures
import functools
import gzip
import http.server
import io
import os
import sys
import threading
import time
import uuid

import pytest
import requests
from astropy.io.votable import parse_single_table
from conftest import _free_port

UPLOAD_QUERY = {
    "LANG": "ADQL",
    "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t",
    "UPLOAD": "t,param:f",
}


@pytest.fixture(scope="module")
def server(database_url, hectornb_home, tmp_path_factory):
    """A server of its own (its memory is measured), no app kernels, uploads by URL allowed
    only from ``localhost`` so that 127.0.0.1 stands for the data centre's inside."""
    import subprocess

    from support.harness import serve_platform

    token = "hostile-" + uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "HECTORNB_POOL_SIZE": "0",
        "HECTORNB_TAP_UPLOAD_HOSTS": "localhost",
        "HECTORNB_TAP_MAX_JOBS": "4",
        "HECTORNB_STATEMENT_TIMEOUT_MS": "1500",
        "HECTORNB_IMPORTS_AT_ONCE": "1",
    }
    log = tmp_path_factory.mktemp("hostile") / "serve.log"
    proc, base = serve_platform(env, _free_port(), log, apps=())
    yield {"base": base, "tap": base + "/hectornb/tap", "token": token, "pid": proc.pid, "log": log}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss(pid: int) -> int:
    """Resident memory of a process, bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise LookupError(pid)


def while_running(server, work):
    """Run ``work()`` in a thread; meanwhile time an unrelated signed-in API call again and
    again and sample the server's memory. (result, slowest call s, peak RSS growth bytes)."""
    headers = {"Authorization": f"token {server['token']}"}
    idle = rss(server["pid"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(work)
        slowest, peak = 0.0, idle
        while not future.done():
            t0 = time.perf_counter()
            r = requests.get(server["base"] + "/hectornb/api/", headers=headers, timeout=60)
            slowest = max(slowest, time.perf_counter() - t0)
            assert r.status_code == 200
            peak = max(peak, rss(server["pid"]))
            time.sleep(0.05)
        return future.result(), slowest, peak - idle


def upload(server, data: bytes, query: dict | None = None, **kw) -> requests.Response:
    return requests.post(
        server["tap"] + "/sync",
        data=query or UPLOAD_QUERY,
        files={"f": ("t.csv", data)},
        timeout=120,
        **kw,
    )


def count(r: requests.Response) -> int:
    assert r.status_code == 200, r.text
    return int(parse_single_table(io.BytesIO(r.content)).to_table()["n"][0])


def test_a_two_megabyte_line_is_refused_at_once_and_the_server_keeps_answering(server):
    r, slowest, _ = while_running(server, lambda: upload(server, b"x" * 2_000_000))
    assert r.status_code == 400
    assert b"the header line (the column names) is longer than 65536 bytes" in r.content
    assert slowest <= 1.0
    r = upload(server, b"a,b\n1,2\n3," + b"4" * 1_100_000 + b"\n5,6\n")
    assert r.status_code == 400 and b"line 3 is longer than 1048576 bytes" in r.content


def test_tables_wider_than_the_column_limit_are_refused_not_a_500(server):
    wide_csv = (
        ",".join(f"c{i}" for i in range(2000)).encode() + b"\n" + b",".join([b"1"] * 2000) + b"\n"
    )
    r = upload(server, wide_csv)
    assert r.status_code == 400 and b"2000 columns; this service takes at most 500" in r.content
    fields = b"".join(b'<FIELD name="f%d" datatype="int"/>' % i for i in range(100_000))
    votable = (
        b'<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE><TABLE>'
        + fields
        + b"<DATA><TABLEDATA/></DATA></TABLE></RESOURCE></VOTABLE>"
    )
    assert len(votable) > 3_000_000
    r = upload(server, votable)
    assert r.status_code == 400 and b"100000 columns" in r.content
    # six at once, 20,000 columns each: all refused, and everyone else still served
    line = ",".join(f"col{i:05d}" for i in range(20_000)).encode()
    body = line + b"\n" + b",".join([b"1.5"] * 20_000) + b"\n"

    def six():
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            return list(pool.map(lambda _: upload(server, body), range(6)))

    answers, slowest, _ = while_running(server, six)
    assert {a.status_code for a in answers} <= {400, 429}
    assert any(a.status_code == 400 and b"20000 columns" in a.content for a in answers)
    assert slowest <= 1.0


def test_a_twenty_megabyte_table_is_read_while_the_server_answers_others(server):
    rows = 900_000
    data = b"ra,dec\n" + b"123.456789,-45.678901\n" * rows
    assert len(data) < 20 * 1024 * 1024
    r, slowest, growth = while_running(server, lambda: upload(server, data))
    assert count(r) == rows
    assert slowest <= 1.0, f"an unrelated API call took {slowest:.2f} s during the upload"
    assert growth < 300 * 1024 * 1024


def test_a_gzip_bomb_is_not_inflated(server):
    bomb = gzip.compress(b"1.0,2.0\n" * 25_000_000, 9)  # 200 MB as 0.3 MB
    assert len(bomb) < 400_000
    r, slowest, growth = while_running(server, lambda: upload(server, bomb))
    assert r.status_code == 400
    assert b"more than 104857600 bytes once its gzip compression is undone" in r.content
    assert growth < 300 * 1024 * 1024 and slowest <= 1.0
    # within the unpacked limit but over the row limit: refused before parsing
    many = gzip.compress(b"a\n" + b"1\n" * 1_500_000)
    r = upload(server, many)
    assert r.status_code == 400 and b"1500000 rows; this service takes at most 1000000" in (
        r.content
    )
    # a compressed table within every limit is read
    assert count(upload(server, gzip.compress(b"a,b\n1,2\n3,4\n"))) == 2


def test_a_two_million_row_answer_streams_in_flat_memory(server):
    """MAXREC=2,000,000 on a cross join: the rows go out as the database gives them."""
    import numpy as np
    from astropy.table import Table

    from hectornb.tap import ingest_table

    ingest_table(Table({"k": np.arange(1500, dtype=np.int32)}), "hostile.numbers")

    def query() -> bytes:
        r = requests.get(
            server["tap"] + "/sync",
            timeout=600,
            params={
                "LANG": "ADQL",
                "MAXREC": "2000000",
                "QUERY": "SELECT a.k FROM hostile.numbers AS a, hostile.numbers AS b",
            },
        )
        assert r.status_code == 200
        return r.content

    body, slowest, growth = while_running(server, query)
    assert body.count(b"<TR>") == 2_000_000
    assert body.rstrip().endswith(
        b'<INFO name="QUERY_STATUS" value="OVERFLOW"/></RESOURCE></VOTABLE>'
    )  # 2,250,000 rows cut at MAXREC
    assert growth < 300 * 1024 * 1024, f"RSS grew {growth / 2**20:.0f} MB"
    assert slowest <= 1.0


@pytest.fixture()
def web_folder(tmp_path):
    """A loopback web server with a table and a redirect to 127.0.0.1."""
    (tmp_path / "up.csv").write_bytes(b"a,b\n1,2\n3,4\n5,6\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{port}/up.csv")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path))
    )
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    server.shutdown()


def test_uploads_by_url_need_sign_in_and_never_reach_inside(server, web_folder):
    signed_in = {"Authorization": f"token {server['token']}"}
    query = {**UPLOAD_QUERY, "UPLOAD": f"t,http://localhost:{web_folder}/up.csv"}
    r = requests.post(server["tap"] + "/sync", data=query, timeout=60)
    assert r.status_code == 400 and b"sign in to upload a table by URL" in r.content
    # the allow-listed host is fetched
    r = requests.post(server["tap"] + "/sync", data=query, headers=signed_in, timeout=60)
    assert count(r) == 3
    # an address inside, open port or closed: the same refusal, nothing connected to
    answers = []
    for url in (
        f"http://127.0.0.1:{web_folder}/up.csv",
        "http://127.0.0.1:1/up.csv",
        f"http://localhost:{web_folder}/redirect",
    ):
        r = requests.post(
            server["tap"] + "/sync",
            headers=signed_in,
            timeout=60,
            data={**UPLOAD_QUERY, "UPLOAD": f"t,{url}"},
        )
        assert r.status_code == 400
        answers.append(r.content.replace(url.encode(), b"URL"))
    assert all(b"does not connect to 127.0.0.1" in a for a in answers)
    assert answers[0] == answers[1] == answers[2]


def test_one_client_gets_a_429_beyond_its_concurrent_queries_others_do_not(server):
    data = b"ra,dec\n" + b"123.456789,-45.678901\n" * 600_000

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        anonymous = list(pool.map(lambda _: upload(server, data), range(3)))
    statuses = sorted(a.status_code for a in anonymous)
    assert statuses[:2] == [200, 200] and statuses[2] == 429, statuses
    refused = next(a for a in anonymous if a.status_code == 429)
    assert b"synchronous queries under way" in refused.content
    assert all(count(a) == 600_000 for a in anonymous if a.status_code == 200)


def _post_from(server, address: str, path: str, data: dict) -> tuple[int, str]:
    """POST from a given loopback source address (another anonymous client); (status,
    Location)."""
    import http.client
    import urllib.parse

    url = urllib.parse.urlsplit(server["tap"] + path)
    conn = http.client.HTTPConnection(
        url.hostname, url.port, timeout=30, source_address=(address, 0)
    )
    body = urllib.parse.urlencode(data)
    conn.request("POST", url.path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, r.getheader("Location") or ""


def test_anonymous_jobs_are_unlisted_unguessable_and_limited(server):
    import xml.etree.ElementTree as ET

    from support.tap_fixtures import fixed_catalogue

    from hectornb.tap import ingest_table

    ingest_table(fixed_catalogue(), "hostile.stars")
    slow = {
        "LANG": "ADQL",
        "PHASE": "RUN",
        "QUERY": "SELECT COUNT(*) FROM " + ", ".join(f"hostile.stars AS t{k}" for k in range(9)),
    }
    mine = [_post_from(server, "127.0.0.1", "/async", slow) for _ in range(3)]
    assert all(status == 303 for status, _ in mine)
    urls = [location for _, location in mine]
    assert all(len(u.rsplit("/", 1)[-1]) == 32 for u in urls)  # 128-bit IDs
    signed_in = requests.Session()
    signed_in.headers["Authorization"] = f"token {server['token']}"
    other = theirs = None
    try:
        listing = ET.fromstring(requests.get(server["tap"] + "/async", timeout=30).content)
        assert listing.findall("{*}jobref") == []  # nobody sees anonymous jobs listed
        # all anonymous callers together run no more than one user may: another address
        # waits, and a signed-in user's job runs at once
        status, other = _post_from(server, "127.0.0.2", "/async", slow)
        assert status == 303
        theirs = signed_in.post(server["tap"] + "/async", data=slow, timeout=30).url
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            phases = [requests.get(u + "/phase", timeout=10).text for u in [*urls, other]]
            mine_now = signed_in.get(theirs + "/phase", timeout=10).text
            if phases[:3].count("EXECUTING") == 2 and mine_now == "EXECUTING":
                break
            time.sleep(0.2)
        assert sorted(phases[:3]) == ["EXECUTING", "EXECUTING", "QUEUED"], phases
        assert phases[3] == "QUEUED" and mine_now == "EXECUTING"
        # the quota of live jobs (4 on this server) is per client too
        status, extra = _post_from(server, "127.0.0.1", "/async", slow)
        assert status == 303
        urls.append(extra)
        status, _ = _post_from(server, "127.0.0.1", "/async", slow)
        assert status == 429
        assert _post_from(server, "127.0.0.2", "/async", slow)[0] == 303
    finally:
        for u in [*urls, other, theirs]:
            if u:
                signed_in.post(u, data={"PHASE": "ABORT"}, timeout=30)
    for bad in ("-1", "99999999999999999999", "x"):
        r = requests.get(server["tap"] + "/async", params={"LAST": bad}, timeout=30)
        assert r.status_code == 400, (bad, r.status_code)


def test_a_token_that_does_not_sign_in_is_a_401_not_anonymous_reads(server):
    r = requests.get(
        server["tap"] + "/tables", headers={"Authorization": "token nonsense"}, timeout=30
    )
    assert r.status_code == 401 and b"not valid" in r.content
    assert requests.get(server["tap"] + "/tables", timeout=30).status_code == 200


def test_a_large_target_file_imports_whatever_the_per_statement_limit(server):
    """Storing a big list is one bulk COPY: bounded by the import limit, not by the 1.5 s this
    server allows one statement of a user's action (a 64 MiB file used to end in a 500)."""
    body = b"".join(b"T%07d,%d.0,-%d.5\n" % (k, k % 360, k % 89) for k in range(600_000))
    headers = {"Authorization": f"token {server['token']}"}

    def load(name: str) -> requests.Response:
        return requests.post(
            server["base"] + "/hectornb/api/targets/lists",
            headers=headers,
            params={"filename": "big.csv", "name": name},
            data=body,
            timeout=600,
        )

    names = [f"big-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # this server reads one at a time
        answers = list(pool.map(load, names))
    assert sorted(a.status_code for a in answers) == [201, 429], [a.text[:200] for a in answers]
    r = next(a for a in answers if a.status_code == 201)
    name = names[answers.index(r)]
    assert r.json()["n_targets"] == 600_000
    page = requests.get(
        server["base"] + f"/hectornb/api/targets/lists/{name}/targets",
        headers=headers,
        params={"offset": 599_999},
        timeout=60,
    ).json()
    assert page["total"] == 600_000 and page["targets"][0]["name"] == "T0599999"

    def export() -> int:  # streamed as read: the server holds a batch, not the list
        with requests.get(
            server["base"] + f"/hectornb/api/targets/lists/{name}/export.csv",
            headers=headers,
            stream=True,
            timeout=600,
        ) as r:
            assert r.status_code == 200
            return sum(chunk.count(b"\n") for chunk in r.iter_content(1 << 20))

    lines, slowest, growth = while_running(server, export)
    assert slowest <= 1.0  # and everyone else is served meanwhile
    assert lines == 600_001  # the header and every target
    assert growth < 100 * 1024 * 1024, f"RSS grew {growth / 2**20:.0f} MB during the export"
    requests.delete(
        server["base"] + f"/hectornb/api/targets/lists/{name}", headers=headers, timeout=60
    )


def test_the_limits_are_settings_reported_by_hectornb_config(server):
    import subprocess

    env = {**os.environ, "HECTORNB_TAP_UPLOAD_COLUMNS": "64"}
    out = subprocess.run(
        [sys.executable, "-m", "hectornb.cli", "config"],
        text=True,
        capture_output=True,
        check=True,
        env=env,
    ).stdout
    for name in (
        "TAP_UPLOAD_LIMIT",
        "TAP_UPLOAD_UNPACKED_LIMIT",
        "TAP_UPLOAD_ROWS",
        "TAP_UPLOAD_SECONDS",
        "TAP_UPLOAD_MEMORY",
        "TAP_SYNC_CONCURRENCY",
        "TAP_SYNC_PER_CLIENT",
        "TAP_MAX_JOBS",
        "TAP_SYNC_BYTES",
        "APP_KERNELS_PER_USER",
        "IMPORT_TIMEOUT",
        "DATABASE_WAIT",
        "IMPORTS_AT_ONCE",
    ):
        assert f"HECTORNB_{name}" in out
    assert "(any public address)" in out
    line = next(x for x in out.splitlines() if "HECTORNB_TAP_UPLOAD_COLUMNS" in x)
    assert "64" in line and "environment" in line


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "[::1]",
        "[fe80::1]",
        "224.0.0.1",
    ],
)
def test_fetch_refuses_loopback_private_link_local_and_multicast(address):
    from hectornb.tap.fetch import fetch
    from hectornb.tap.service import TapError

    with pytest.raises(TapError, match="is not a public address"):
        fetch(f"http://{address}:8080/t.csv", 1000)
    # a data centre may allow its own networks by name or range
    with pytest.raises(TapError, match="not on this service's list of upload hosts"):
        fetch(f"http://{address}:8080/t.csv", 1000, allow=("archive.example.org",))


def test_fetch_follows_redirects_only_to_allowed_hosts(web_folder):
    from hectornb.tap.fetch import fetch
    from hectornb.tap.service import TapError

    assert (
        fetch(f"http://127.0.0.1:{web_folder}/up.csv", 1000, allow=("127.0.0.0/8",))
        == b"a,b\n1,2\n3,4\n5,6\n"
    )
    assert fetch(
        f"http://localhost:{web_folder}/redirect", 1000, allow=("localhost", "127.0.0.1")
    ).startswith(b"a,b")
    with pytest.raises(TapError, match=r"does not connect to 127\.0\.0\.1"):
        fetch(f"http://localhost:{web_folder}/redirect", 1000, allow=("localhost",))
    with pytest.raises(TapError, match="larger than the upload limit of 10 bytes"):
        fetch(f"http://127.0.0.1:{web_folder}/up.csv", 10, allow=("127.0.0.1",))


def test_a_child_process_is_stopped_by_its_time_and_memory_limits():
    from hectornb.isolate import MemoryLimitExceeded, TimeLimitExceeded, run_isolated

    t0 = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="longer than 1 s"):
        run_isolated(time.sleep, 30, seconds=1)
    assert time.monotonic() - t0 < 5
    with pytest.raises(MemoryLimitExceeded):
        run_isolated(bytearray, 600 * 1024 * 1024, seconds=30, memory=100 * 1024 * 1024)
    assert run_isolated(bytearray, 10, seconds=30, memory=100 * 1024 * 1024) == bytearray(10)
    with pytest.raises(ZeroDivisionError):  # the child's own errors reach the caller as such
        run_isolated(divmod, 1, 0, seconds=30)
