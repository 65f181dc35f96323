"""A whole simulated night through ``hectornb reduce night``: time, frames per minute, memory.

    .venv/bin/python benchmarks/bench_night.py [--instrument 2df|hector] [--workers 2]

The issue's night: two arms, two fields, three exposures each, with biases, darks, flats
and arcs, full size, on this machine's local Dask cluster. Targets from issue 3: <= 2
minutes on the 2-core machine; <= 1.5 GB per worker process. Reported next to PAWS's
"960 science exposures in 48 minutes" (20 object frames per minute, Data Central).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from hectornb.reduce.run import reduce_night
from hectornb.simulate import simulate_night

PAWS_FRAMES_PER_MINUTE = 960 / 48


class PeakMemory:
    """Samples the resident memory of every child process (the Dask workers)."""

    def __init__(self):
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                self.peak[child.pid] = max(self.peak.get(child.pid, 0), rss)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instrument", choices=("2df", "hector"), default="2df")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", choices=("full", "small"), default="full")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hnb-night-") as tmp:
        t0 = time.perf_counter()
        raw = Path(tmp) / "raw"
        simulate_night(
            raw,
            date=dt.date(2025, 8, 27),
            instrument=args.instrument,
            fields=2,
            exposures=3,
            size=args.size,
            seed=7,
        )
        print(
            f"simulated the night ({args.instrument}, {args.size}) in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        with PeakMemory() as memory:
            t1 = time.perf_counter()
            run = reduce_night(raw, Path(tmp) / "out", workers=args.workers)
            wall = time.perf_counter() - t1
        n_objects = len(run.products("reduce_object"))
        busy = {}
        for r in run.results.values():
            busy[r.step.task] = busy.get(r.step.task, 0.0) + r.seconds
        print(
            f"reduced: {sum(r.status == 'done' for r in run.results.values())}/"
            f"{len(run.results)} steps, {n_objects} object frames, "
            f"{len(run.products('splice'))} spliced fields"
        )
        print(f"wall time {wall:.1f} s with {args.workers} workers (target <= 120 s)")
        per_minute = n_objects / (wall / 60)
        print(
            f"object frames per minute: {per_minute:.1f} (PAWS: "
            f"{PAWS_FRAMES_PER_MINUTE:.0f}; ratio {per_minute / PAWS_FRAMES_PER_MINUTE:.2f}) "
            f"with calibrations included"
        )
        print("time in steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in busy.items()))
        peak = sorted(memory.peak.values(), reverse=True)[: args.workers]
        print(
            "peak memory per worker process: "
            + ", ".join(f"{p / 2**30:.2f} GB" for p in peak)
            + " (target <= 1.5 GB)"
        )
        for failure in run.failures():
            print(failure.describe())
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
