"""The ``2dfdr-docker`` engine's cost: a container per 2dFdr command, and a night.

    ./dev.sh dockerd   # in another terminal, unless a Docker daemon runs: prints DOCKER_HOST
    .venv/bin/python benchmarks/bench_docker.py [--repeat 10]

Needs a Docker daemon. Builds the stand-in 2dFdr image (the project's Dockerfile FROM a test
base imported with no registry), then measures, in the same run:

1. per command: the same stand-in ``aaorun make_tlm`` on the same fibre flat, run as a plain
   process and in a container (create, start, wait, remove, through `containers.run`, as
   the engine does); the overhead is the difference of the medians (goal <= 0.5 s);
2. a small simulated Hector night reduced with ``2dfdr-docker`` (the stand-in), with
   ``2dfdr`` (the same stand-in as a process) and with ``builtin`` on two local Dask
   workers: wall time of each, and the ratio of the first to the last.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.docker_images import RELEASE, docker_client, standin_image  # noqa: E402

from hectornb.config import get_settings  # noqa: E402
from hectornb.reduce import containers  # noqa: E402
from hectornb.reduce.archive import index_directory  # noqa: E402
from hectornb.reduce.run import plan_steps, reduce_night  # noqa: E402
from hectornb.reduce.tdfdr import commands, idx_file, prepare_workdir, step_files  # noqa: E402
from hectornb.simulate import simulate_night  # noqa: E402


def _process(argv: tuple[str, ...], work: Path) -> float:
    env = {**os.environ, "TDFDR_SHARE": str(RELEASE / "share" / "2dfdr")}
    env["IMP_SCRATCH"] = str(work / "imp_scratch")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(RELEASE / "bin" / "aaorun"), *argv[1:]],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    client = docker_client()
    t0 = time.perf_counter()
    image = standin_image(client, "A")
    print(f"stand-in image {image} ready in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory(prefix="hnb-docker-") as tmp:
        root = Path(tmp)
        os.environ["HECTORNB_HOME"] = str(root / "home")
        os.environ["HECTORNB_2DFDR_IMAGE"] = image
        raw = root / "raw"
        simulate_night(
            raw, date=dt.date(2025, 8, 27), instrument="hector", fields=1, exposures=2, seed=2
        )
        frames, _ = index_directory(raw)
        plan = plan_steps(frames, root / "plan", {})
        # the fibre flat's tram-line map, from the raw flat alone (no bias to make first)
        tlm = next(s for s in plan.steps if s.task == "make_tlm")
        tlm = dataclasses.replace(tlm, inputs={"raw": tlm.inputs["raw"]})
        (command,) = commands(tlm, {}, idx_file(tlm, {}))

        plain, boxed = [], []
        for _ in range(args.repeat):
            work = prepare_workdir(tlm, root)
            plain.append(_process(command.argv, work))
            shutil.rmtree(work)
            work = prepare_workdir(tlm, root, containers.INPUTS)
            containers.give_to_container_user(get_settings(), work, work / "imp_scratch")
            sandbox = containers.Sandbox(
                image,
                command.argv,
                work,
                step_files(tlm),
                {"IMP_SCRATCH": "/work/imp_scratch"},
            )
            t = time.perf_counter()
            outcome = containers.run(sandbox, timeout=300)
            boxed.append(time.perf_counter() - t)
            assert outcome.exit_code == 0, outcome.output
            shutil.rmtree(work)
        p, b = statistics.median(plain), statistics.median(boxed)
        print(f"\n1. one command ({tlm.describe()}), median of {args.repeat}:")
        print(f"   plain process   {p:.3f} s")
        print(f"   in a container  {b:.3f} s  (create, start, wait, remove)")
        print(f"   overhead        {b - p:.3f} s per command   goal <= 0.5 s")

        # the same stand-in as a plain aaorun on PATH: what the containers add to a night
        os.environ["PATH"] = f"{RELEASE / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"
        os.environ["TDFDR_SHARE"] = str(RELEASE / "share" / "2dfdr")
        times = {}
        for engine in ("2dfdr-docker", "2dfdr", "builtin"):
            t = time.perf_counter()
            run = reduce_night(raw, root / engine, engine=engine, workers=2)
            times[engine] = time.perf_counter() - t
            assert run.ok, [r.describe() for r in run.failures()]
            print(f"\n2. night with {engine}: {len(run.results)} steps in {times[engine]:.1f} s")
        print(
            f"   2dfdr-docker (stand-in) / builtin wall time: "
            f"{times['2dfdr-docker'] / times['builtin']:.2f}; containers add "
            f"{times['2dfdr-docker'] - times['2dfdr']:.1f} s to the stand-in run as processes"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
