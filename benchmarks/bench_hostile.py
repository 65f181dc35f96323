"""The platform under heavy and hostile TAP use, over loopback: does everyone else still get
served, and does the server's memory stay flat?

    .venv/bin/python benchmarks/bench_hostile.py [--clients 4] [--rows 2000000]

Starts ``hectornb serve`` on a throw-away embedded database and measures:

- the latency of an unrelated signed-in API call (``GET /hectornb/api/``) while ``--clients``
  clients each upload a 20 MB CSV table to TAP at once: p50 and p99 (issue 14: p99 <= 250 ms),
  beside the same call on the idle server in the same run (the reference);
- the server's peak RSS over idle while a ``--rows``-row synchronous result is streamed as
  VOTable (issue 14: <= 300 MB over idle), beside the bytes sent.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.harness import serve_platform  # noqa: E402


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmRSS:"))


def latencies(base: str, stop: threading.Event, out: list[float]) -> None:
    headers = {"Authorization": "token bench"}
    while not stop.is_set():
        t0 = time.perf_counter()
        requests.get(base + "/hectornb/api/", headers=headers, timeout=60).raise_for_status()
        out.append(time.perf_counter() - t0)
        time.sleep(0.02)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def idle_latency(base: str, seconds: float = 5) -> list[float]:
    stop, out = threading.Event(), []
    t = threading.Thread(target=latencies, args=(base, stop, out))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()
    return out


def under_uploads(base: str, clients: int) -> tuple[list[float], float]:
    rows = 900_000
    table = b"ra,dec\n" + b"123.456789,-45.678901\n" * rows  # 19.8 MB
    stop, out = threading.Event(), []
    probe = threading.Thread(target=latencies, args=(base, stop, out))
    probe.start()
    t0 = time.perf_counter()

    def upload(k: int) -> int:
        # each client signed in as itself would be one user; here each is its own address
        r = requests.post(
            base + "/hectornb/tap/sync",
            timeout=300,
            data={
                "LANG": "ADQL",
                "UPLOAD": "t,param:f",
                "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t",
            },
            files={"f": ("t.csv", table)},
        )
        return r.status_code

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(upload, range(clients)))
    elapsed = time.perf_counter() - t0
    stop.set()
    probe.join()
    print(f"  upload answers: {sorted(statuses)} in {elapsed:.1f} s")
    return out, elapsed


def streamed_rss(base: str, pid: int, rows: int) -> tuple[int, int, float]:
    from astropy.table import Table

    from hectornb.tap import ingest_table

    side = int(rows**0.5) + 1
    import numpy as np

    ingest_table(Table({"k": np.arange(side, dtype=np.int32)}), "bench.side")
    idle = rss(pid)
    peak, done = idle, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    sent = 0
    with requests.get(
        base + "/hectornb/tap/sync",
        stream=True,
        timeout=900,
        params={
            "LANG": "ADQL",
            "MAXREC": str(rows),
            "QUERY": "SELECT a.k, b.k AS k2 FROM bench.side AS a, bench.side AS b",
        },
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            sent += len(chunk)
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    return peak - idle, sent, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rows", type=int, default=2_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hnb-bench-hostile-") as home:
        os.environ["HECTORNB_HOME"] = home
        os.environ.pop("HECTORNB_DATABASE_URL", None)
        env = {
            **os.environ,
            "JUPYTER_TOKEN": "bench",
            "HECTORNB_POOL_SIZE": "0",
            "HECTORNB_RUNNER": "external",
            "HECTORNB_TAP_SYNC_PER_CLIENT": "8",
        }
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc, base = serve_platform(env, port, Path(home) / "serve.log", apps=())
        try:
            idle = idle_latency(base)
            busy, _ = under_uploads(base, args.clients)
            print(f"unrelated API call while {args.clients} clients upload 20 MB tables:")
            print(
                f"  idle (reference): p50 {1000 * percentile(idle, 50):6.1f} ms   p99 "
                f"{1000 * percentile(idle, 99):6.1f} ms   ({len(idle)} calls)"
            )
            print(
                f"  during uploads:   p50 {1000 * percentile(busy, 50):6.1f} ms   p99 "
                f"{1000 * percentile(busy, 99):6.1f} ms   ({len(busy)} calls; goal p99 "
                f"<= 250 ms; {percentile(busy, 99) / percentile(idle, 99):.1f}x idle)"
            )
            growth, sent, elapsed = streamed_rss(base, proc.pid, args.rows)
            print(
                f"a {args.rows:,}-row synchronous result as VOTable: {sent / 1e6:.0f} MB "
                f"sent in {elapsed:.1f} s; server RSS peak {growth / 2**20:.0f} MB over "
                f"idle (goal <= 300 MB; {growth / max(sent, 1):.2f} bytes of memory per "
                "byte sent)"
            )
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
