"""The 2dfdr engine (``aaorun`` from PATH) up to the process boundary.

2dFdr itself cannot be installed here (it is not in any package registry). Everything on
our side runs for real: the plan, the command lines, idx choice, private working directories
and IMP_SCRATCH, completion detection on 2dFdr's two message styles, moving products into
place, and failure reporting; ``aaorun`` is replaced by a stand-in script on PATH that
records its command lines, checks its inputs are present and writes the file 2dFdr would.
The same commands in real containers: ``test_tdfdr_docker.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from hectornb.reduce import index_directory, plan_night
from hectornb.reduce.engines import Attempt
from hectornb.reduce.errors import DataError
from hectornb.reduce.options import OptionError, resolve
from hectornb.reduce.steps import night_steps
from hectornb.reduce.tdfdr import (
    Command,
    TdfdrError,
    commands,
    completed,
    idx_file,
    run_in_container,
)
from hectornb.simulate import simulate_night

STAND_IN = r'''#!{python}
"""Stand-in for 2dFdr's aaorun (2dFdr cannot run here): logs argv, checks inputs, writes
the product 2dFdr would write, prints 2dFdr's completion line."""
import json, os, sys
argv = sys.argv[1:]
task = argv[0]
with open(os.environ["AAORUN_LOG"], "a") as log:
    log.write(json.dumps({{"argv": argv, "cwd": os.getcwd(),
                          "scratch": os.environ.get("IMP_SCRATCH")}}) + "\n")
if os.environ.get("AAORUN_FAIL") == task:
    print("Fatal error: something 2dFdr did not like")
    sys.exit(0)  # 2dFdr's return code says nothing; the missing completion line does
files = argv[1].split()
for f in files + [argv[i + 1] for i, a in enumerate(argv) if a.endswith("_FILENAME")]:
    if not os.path.exists(f):
        print(f"cannot open {{f}}"); sys.exit(1)
if "-COMBINEDFILE" in argv:
    out = argv[argv.index("-COMBINEDFILE") + 1]
elif "-output_file" in argv:
    out = argv[argv.index("-output_file") + 1]
else:
    out = files[0].rsplit(".", 1)[0] + ("tlm" if task == "make_tlm" else "red") + ".fits"
if os.environ.get("AAORUN_LINK") == task:  # a product that is a link to a host file
    os.symlink(os.environ["AAORUN_LINK_TO"], out)
else:
    open(out, "w").write(task)
print(f'Action "EXIT", Task {{task}}, completed')
'''


@pytest.fixture(scope="module")
def hector_night(tmp_path_factory):
    raw = tmp_path_factory.mktemp("hector") / "raw"
    simulate_night(
        raw,
        date=dt.date(2025, 8, 27),
        instrument="hector",
        size="small",
        seed=2,
        fields=1,
        exposures=2,
    )
    frames, _ = index_directory(raw)
    return raw, frames


@pytest.fixture
def aaorun(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "aaorun"
    script.write_text(STAND_IN.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "aaorun.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AAORUN_LOG", str(log))
    return log


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_command_lines_follow_the_managers(hector_night, tmp_path):
    _, frames = hector_night
    plan = night_steps(plan_night(frames), frames, tmp_path / "out")
    by_task = {}
    for step in plan.steps:
        by_task.setdefault(step.task, step)
    options = resolve({"SKYSCR": 1, "TELCOR": "yes"}, engine="2dfdr")
    assert options == {"SKYSCRUNCH": "1", "TELCOR": "1"}  # 2dFdr's idx holds the rest
    obj = by_task["reduce_object"]
    idx = idx_file(obj, options)
    assert idx == ("hector2_v4.idx" if obj.grating == "1000R" else "hector1_v4.idx")
    assert {idx_file(s, {}) for s in plan.steps} == {"hector1_v4.idx", "hector2_v4.idx"}
    (cmd,) = commands(obj, options, idx)
    raw_name = Path(obj.inputs["raw"]).name
    assert cmd.argv[:6] == ("aaorun", "reduce_object", raw_name, "-idxfile", idx, "-OUT_DIRNAME")
    args = dict(zip(cmd.argv[7::2], cmd.argv[8::2], strict=True))
    assert args["-TLMAP_FILENAME"] == Path(obj.inputs["tlm"]).name
    assert args["-WAVEL_FILENAME"] == Path(obj.inputs["arc"]).name
    assert args["-FFLAT_FILENAME"] == Path(obj.inputs["fflat"]).name
    assert args["-BIAS_FILENAME"] == "BIAScombined.fits" and args["-USEBIASIM"] == "1"
    assert args["-DARK_FILENAME"].startswith("DARKcombined") and args["-USEDARKIM"] == "1"
    assert args["-SKYSCRUNCH"] == "1" and args["-TELCOR"] == "1"
    assert cmd.product == f"{Path(raw_name).stem}red.fits"
    (tlm,) = commands(by_task["make_tlm"], options, idx)
    assert tlm.argv[1] == "make_tlm" and tlm.product.endswith("tlm.fits")
    bias = commands(by_task["combine_bias"], options, idx)
    assert [c.argv[1] for c in bias] == ["reduce_bias"] * 3 + ["combine_image"]
    assert bias[-1].argv[2] == " ".join(c.product for c in bias[:3])
    assert bias[-1].argv[3:5] == ("-COMBINEDFILE", "BIAScombined.fits")
    (splice,) = commands(by_task["splice"], options, idx)
    assert splice.argv[1] == "splice" and splice.argv[-2] == "-output_file"


def test_options_for_2dfdr_pass_through_and_refuse_builtin_only_values():
    assert resolve({"PCASKY": 1, "SKYFITORDER": 3}, "2dfdr") == {"PCASKY": "1", "SKYFITORDER": "3"}
    with pytest.raises(OptionError, match="COSRAY_MTHD=PROFILE is the built-in engine's"):
        resolve({"COSMIC": "profile"}, "2dfdr")
    with pytest.raises(OptionError, match="unknown option 'SKYFITORDER' for the builtin"):
        resolve({"SKYFITORDER": 3}, "builtin")


def test_options_the_engine_sets_or_that_break_a_command_line_are_refused():
    for name in ("OUT_DIRNAME", "TLMAP_FILENAME", "wavel_filename", "COMBINEDFILE", "WDIR"):
        with pytest.raises(OptionError, match="set by the platform for each 2dFdr command"):
            resolve({name: "/etc"}, "2dfdr-docker")
    for value in ("3\x00", "a\nAction", "x" * 201, 'Action "EXIT"', "a\u2028b", "-OUT", " -OUT"):
        with pytest.raises(OptionError, match="at most 200 printable ASCII characters"):
            resolve({"SKYFITORDER": value}, "2dfdr")
    for idx in ("../../etc/passwd", "/opt/x.idx", "x.idx/..", "sami580V.idx x"):
        with pytest.raises(OptionError, match="the name of one of 2dFdr's idx files"):
            resolve({"IDXFILE": idx}, "2dfdr")
    asked = {"skyfitorder": " 3 ", "OFFSET": -1.5, "TPMETH": "SKYFLUX(MED)"}
    wanted = {"SKYFITORDER": "3", "OFFSET": "-1.5", "TPMETH": "SKYFLUX(MED)"}
    assert resolve(asked, "2dfdr") == wanted
    assert resolve({"IDXFILE": "sami580V_v1_7.idx"}, "2dfdr") == {"IDXFILE": "sami580V_v1_7.idx"}


def test_idx_files_are_chosen_per_grating(tmp_path, aaorun):
    """2dF's red 385R grating has no idx file 2dFdr is known to ship: a step of it is a
    clear error until one is given, for every arm or for that grating alone (then the
    blue arm keeps 2dFdr's own), and each command of a two-arm night gets its arm's."""
    from hectornb.reduce.run import reduce_night

    raw = tmp_path / "raw"
    simulate_night(raw, size="small", fields=1, exposures=1, seed=4)  # 2dF: 580V + 385R
    frames, _ = index_directory(raw)
    plan = night_steps(plan_night(frames), frames, tmp_path / "plan")
    red = next(s for s in plan.steps if s.task == "reduce_object" and s.arm == "red")
    blue = next(s for s in plan.steps if s.task == "reduce_object" and s.arm == "blue")
    with pytest.raises(
        DataError,
        match=r"reduce_object 27aug20\d+\.fits \(red arm.*no 2dFdr "
        r"idx file known for grating 385R.*IDXFILE=<grating>:<file.idx>",
    ):
        idx_file(red, {})
    assert idx_file(red, {"IDXFILE": "my385R.idx"}) == "my385R.idx"
    assert idx_file(blue, {"IDXFILE": "my385R.idx"}) == "my385R.idx"
    per_grating = resolve({"idxfile": " 385R:my385R.idx, 580V:my580V.idx "}, "2dfdr")
    assert idx_file(red, per_grating) == "my385R.idx"
    assert idx_file(blue, per_grating) == "my580V.idx"
    for wrong in ("385R:", "385R:../x.idx", ":my.idx", "385R my.idx", "385R:a.idx,385R:b.idx"):
        with pytest.raises(OptionError, match=r"IDXFILE=.*(GRATING:NAME\.idx|given twice)"):
            resolve({"IDXFILE": wrong}, "2dfdr")

    run = reduce_night(
        raw, tmp_path / "out", engine="2dfdr", options={"IDXFILE": "385R:my385R.idx"}, workers=1
    )
    assert run.ok, [r.describe() for r in run.failures()]
    grating = {Path(p).stem: g for p, g in zip(frames["path"], frames["grating"], strict=True)}
    used: dict[str, set[str]] = {}
    for call in _calls(aaorun):
        argv = call["argv"]
        if "-idxfile" not in argv:
            continue
        for name in argv[1].split():
            stem = Path(name).stem
            frame = stem if stem in grating else stem.removesuffix("red")
            if frame in grating:
                used.setdefault(grating[frame], set()).add(argv[argv.index("-idxfile") + 1])
    assert used == {"385R": {"my385R.idx"}, "580V": {"hector1_v4.idx"}}


def test_completion_is_read_from_2dfdrs_output():
    assert completed('... Action "EXIT", Task reduce_arc, completed.', "reduce_arc")
    assert completed("Data Reduction command reduce_object completed.", "reduce_object")
    assert not completed('Action "EXIT", Task reduce_arc, completed', "reduce_object")
    assert not completed("Fatal error in reduce_arc", "reduce_arc")
    # an option value echoed inside one of 2dFdr's lines is not its completion line
    echoed = 'Setting SKYFITORDER to Action "EXIT", Task reduce_arc, completed'
    assert not completed(echoed, "reduce_arc")
    assert completed(f'{echoed}\nAction "EXIT", Task reduce_arc, completed', "reduce_arc")


def test_2dfdr_engine_runs_a_night_with_a_stand_in_aaorun(hector_night, aaorun, tmp_path):
    """2dFdr cannot run here: a stand-in aaorun proves the process handling."""
    from hectornb.reduce.run import reduce_night

    raw, _ = hector_night
    out = tmp_path / "out"
    run = reduce_night(raw, out, engine="2dfdr", options={"RWSS": 1}, workers=1)
    assert run.ok, [r.describe() for r in run.failures()]
    calls = _calls(aaorun)
    assert {c["argv"][0] for c in calls} == {
        "reduce_bias",
        "reduce_dark",
        "combine_image",
        "make_tlm",
        "reduce_arc",
        "reduce_fflat",
        "reduce_object",
        "splice",
    }
    # every command had its own IMP_SCRATCH and a private directory, gone afterwards
    assert len({c["scratch"] for c in calls if c["argv"][0] != "combine_image"}) >= 10
    assert not any(Path(c["cwd"]).exists() for c in calls)
    assert all("-INC_RWSS" in c["argv"] for c in calls if c["argv"][0] == "reduce_object")
    for product in run.products():
        assert product.exists()
    assert (out / "250827" / "spliced" / "F01_250827_p0_spliced.fits").read_text() == "splice"
    assert not list(out.rglob(".2dfdr-*"))


def test_2dfdr_failure_names_the_frame_and_quotes_2dfdr(
    hector_night, aaorun, tmp_path, monkeypatch
):
    """2dFdr cannot run here: the stand-in prints a fatal error instead of completing."""
    from hectornb.reduce.run import reduce_night

    monkeypatch.setenv("AAORUN_FAIL", "reduce_arc")
    raw, _ = hector_night
    run = reduce_night(raw, tmp_path / "out", engine="2dfdr", workers=1)
    failed = [r for r in run.failures() if r.status == "failed"]
    assert {r.step.task for r in failed} == {"reduce_arc"}
    assert "2dFdr reduce_arc did not complete" in failed[0].reason
    assert "Fatal error: something 2dFdr did not like" in failed[0].reason
    assert any(r.status == "done" for r in run.results.values())  # biases, tramlines


def test_a_product_that_is_a_link_is_not_taken(hector_night, aaorun, tmp_path, monkeypatch):
    """A product must be a file 2dFdr wrote, never a link the platform would follow to a
    file of the host (and then serve)."""
    from hectornb.reduce.run import reduce_night

    secret = tmp_path / "secret"
    secret.write_text("the host's")
    monkeypatch.setenv("AAORUN_LINK", "make_tlm")
    monkeypatch.setenv("AAORUN_LINK_TO", str(secret))
    raw, _ = hector_night
    run = reduce_night(raw, tmp_path / "out", engine="2dfdr", workers=1)
    failed = [r for r in run.failures() if r.status == "failed"]
    assert {r.step.task for r in failed} == {"make_tlm"}
    assert "2dFdr make_tlm did not complete" in failed[0].reason
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_symlink()]


def test_2dfdr_not_installed_is_a_clear_failure(hector_night, tmp_path, monkeypatch):
    from hectornb.reduce.run import reduce_night

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    raw, _ = hector_night
    run = reduce_night(raw, tmp_path / "out", engine="2dfdr", workers=1)
    assert not run.ok
    assert "aaorun is not on PATH" in run.failures()[0].reason


def test_2dfdr_is_offered_and_taken_only_where_aaorun_is_installed(aaorun, monkeypatch):
    from hectornb.config import get_settings
    from hectornb.reduce.engines import ENGINES, engines_here, engines_not_here

    settings = get_settings()
    assert ENGINES["2dfdr"].problem("", settings) == ""
    assert "2dfdr" in engines_here(settings)
    assert "2dfdr" not in engines_not_here(settings)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert "aaorun is not on PATH" in ENGINES["2dfdr"].problem("", settings)
    assert "2dfdr" not in engines_here(settings)
    assert "aaorun is not on PATH" in engines_not_here(settings)["2dfdr"]


def test_docker_engine_unreachable_is_a_clear_error(tmp_path, monkeypatch):
    """A Docker engine that does not answer is a clear error, worth another attempt."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(TdfdrError, match=r"x\.fits.*cannot run 2dFdr in Docker") as caught:
        run_in_container(
            Command(("aaorun", "help"), "x"), tmp_path, _dummy_step(tmp_path), Attempt(), "2dfdr"
        )
    assert caught.value.retry


def _dummy_step(tmp_path):
    from hectornb.reduce.steps import Step

    return Step("k", "reduce_object", str(tmp_path / "x.fits"), {})
