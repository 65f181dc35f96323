"""The Obslog REST API over loopback, on 100,000 night-log entries.

    .venv/bin/python benchmarks/bench_obslog.py [--entries 100000] [--clients 50] [--seconds 30]

Starts ``hectornb serve`` on a throw-away embedded database, stores ``--entries`` log entries
(three years of nights, 20 runs, 400 tiles, tags), then measures:

- filtered lists (a night range, a tile, seeing and QC, text search, tags; 50 records a
  page), one client: p50/p95. Issue 6's figure: p95 <= 30 ms.
- ``--clients`` concurrent clients for ``--seconds``: four in five read filtered lists, one in
  five edits a log entry (If-Match: the version it read); p99, errors, and that every
  accepted edit is a version in the history (no lost write). Issue 6's figure: p99 <=
  100 ms, zero errors.

The reference printed beside the list figures is the same SQL run directly on the database
(psycopg, no HTTP): the floor the API adds to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.harness import benchmark_server  # noqa: E402


def entries(n: int, rng: random.Random) -> list[dict]:
    start = dt.date(2023, 1, 1)
    out = []
    for _ in range(n):
        night = start + dt.timedelta(days=rng.randrange(3 * 365))
        hour, minute = rng.randrange(9, 20), rng.randrange(60)
        out.append(
            {
                "night": night.isoformat(),
                "time": f"{night.isoformat()}T{hour:02d}:{minute:02d}:00Z",
                "run_id": f"R{(night - start).days // 55:02d}",
                "tile_id": f"T-{rng.randrange(400):03d}",
                "exposure": 1800.0,
                "seeing": round(rng.uniform(0.6, 3.0), 2),
                "qc": rng.choice(("pass", "pass", "fail", "pending")),
                "comment": rng.choice(("", "", "thin cloud at dusk", "guiding lost", "fine")),
                "tags": rng.sample(("science", "standard", "twilight", "bad_seeing"), 1),
            }
        )
    return out


QUERIES = (
    "min_night=2024-03-01&max_night=2024-03-10&order_by=night&order_by=time",
    "tile_id=T-123&order_by=-night",
    "min_seeing=2.5&qc=fail&min_night=2024-01-01&max_night=2024-06-30",
    "q=guiding&min_night=2025-01-01&max_night=2025-03-31",
    "tags=twilight&min_night=2023-06-01&max_night=2023-06-30",
    "run_id=R07&qc=pass&order_by=-seeing",
)


def concurrency(
    session, api: str, auth: dict, ids: list[str], clients: int, seconds: float, rate: float
) -> None:
    """``clients`` threads for ``seconds``: four in five list, one in five edits; each
    waits ``1 / rate`` between the starts of its requests (0: no pause)."""
    versions = {
        log: len(session.get(f"{api}/{log}/history", headers=auth, timeout=30).json()["history"])
        for log in ids
    }
    latencies: list[float] = []
    failures: list[str] = []
    accepted: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        s = requests.Session()
        pick = random.Random(k)
        next_start = time.monotonic() + pick.uniform(0, 1 / rate if rate else 0)
        while time.monotonic() < stop:
            if rate:
                time.sleep(max(0.0, next_start - time.monotonic()))
                next_start += 1 / rate
            t = time.perf_counter()
            if k % 5 == 0:
                log = pick.choice(ids)
                current = s.get(f"{api}/{log}", headers=auth, timeout=30).json()
                r = s.patch(
                    f"{api}/{log}",
                    json={"comment": f"client {k}"},
                    headers={**auth, "If-Match": str(current["version"])},
                    timeout=30,
                )
                ok = r.status_code in (200, 409)
                if r.status_code == 200:
                    with lock:
                        accepted[log] = accepted.get(log, 0) + 1
            else:
                r = s.get(f"{api}?{pick.choice(QUERIES)}", headers=auth, timeout=30)
                ok = r.status_code == 200
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)
                if not ok:
                    failures.append(f"{r.status_code} {r.text[:100]}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lost = 0
    for log, n in accepted.items():
        history = session.get(f"{api}/{log}/history", headers=auth, timeout=30).json()
        lost += (versions[log] + n) - len(history["history"])
    p99 = float(np.percentile(latencies, 99))
    pace = f"{rate:g} requests/s each" if rate else "no pause"
    print(
        f"{clients} clients ({pace}) for {seconds:.0f} s: {len(latencies)} requests "
        f"({len(latencies) / seconds:.0f}/s), p50 {statistics.median(latencies):.1f} ms, p99 "
        f"{p99:.1f} ms (target 100 ms; ratio {p99 / 100:.2f}); errors {len(failures)}; "
        f"edits accepted {sum(accepted.values())}, lost {lost}"
    )
    for f in failures[:5]:
        print("  error:", f)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=2.0,
        help="requests per second per client in the paced run (people and "
        "scripts pause between requests); the other run does not pause",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hnb-bench-obslog-") as home:
        os.environ["HECTORNB_HOME"] = home
        from hectornb.db import engine
        from hectornb.obslog import ObslogStore

        store = ObslogStore()
        me = getpass.getuser()
        store.set_observer(me)
        t0 = time.perf_counter()
        # in the order a log grows: night after night
        log = sorted(entries(args.entries, random.Random(5)), key=lambda e: e["time"])
        for chunk in range(0, args.entries, 10_000):
            store.create_many("logs", log[chunk : chunk + 10_000], me)
        print(f"{args.entries} log entries stored in {time.perf_counter() - t0:.1f} s")
        with engine.connect() as conn:
            conn.execute("ANALYZE obslog_logs")
        with benchmark_server(home) as base:
            api = f"{base}/hectornb/api/obslog/logs"
            auth = {"Authorization": "token bench"}
            session = requests.Session()
            for q in QUERIES:  # warm the server and the database's caches
                session.get(f"{api}?{q}", headers=auth, timeout=30).raise_for_status()
            single, direct = [], []
            for _ in range(20):
                for q in QUERIES:
                    t = time.perf_counter()
                    r = session.get(f"{api}?{q}", headers=auth, timeout=30)
                    single.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, r.text
                    t = time.perf_counter()
                    store.list("logs", parse_qs(q))
                    direct.append((time.perf_counter() - t) * 1000)
            p95 = float(np.percentile(single, 95))
            print(
                f"filtered list, one client: p50 {statistics.median(single):.1f} ms, p95 "
                f"{p95:.1f} ms over {len(single)} (target p95 30 ms; ratio {p95 / 30:.2f}); "
                f"the store's own query without HTTP: p50 {statistics.median(direct):.1f} ms,"
                f" p95 {np.percentile(direct, 95):.1f} ms"
            )

            ids = [
                i["log_id"]
                for i in session.get(
                    f"{api}?tile_id=T-007&limit=200", headers=auth, timeout=30
                ).json()["items"]
            ]
            for rate in (args.rate, 0.0):
                concurrency(session, api, auth, ids, args.clients, args.seconds, rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
