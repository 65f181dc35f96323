"""A night's reduction plan as steps: 2dFdr commands with their inputs and products.

Steps are engine-neutral: each names a 2dFdr task (``make_tlm``, ``reduce_arc``, …), its
input files by role, the steps it needs, and the product it writes. Calibration steps
shared by several groups appear once. Products go where 2dFdr's managers put them,
``OUTDIR/<night>/ccd_<n>/<root><suffix>.fits``, with combined frames beside them
(``<field>_combined.fits``) and both arms spliced in ``OUTDIR/<night>/spliced/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .plan import ReductionGroup

if TYPE_CHECKING:  # frames come as a DataFrame; this module needs no pandas of its own
    import pandas as pd

TASKS = (
    "combine_bias",
    "combine_dark",
    "make_tlm",
    "reduce_arc",
    "reduce_fflat",
    "reduce_object",
    "combine_image",
    "splice",
)


@dataclass(frozen=True)
class Step:
    """One command of the plan.

    ``inputs`` maps a role (``raw``, ``tlm``, ``arc``, ``fflat``, ``bias``, ``dark``,
    ``frames``) to a path or a list of paths; ``needs`` are the keys of the steps that write
    the inputs. A ``combine_image`` step runs with whichever of its frames were reduced
    (``partial``); any other step needs all of ``needs``.
    """

    key: str
    task: str
    output: str
    inputs: dict[str, str | tuple[str, ...]]
    needs: tuple[str, ...] = ()
    arm: str = ""
    field_id: str = ""
    partial: bool = False
    grating: str = ""

    @property
    def frame(self) -> str:
        """The raw frame (or field) a person would name for this step."""
        raw = self.inputs.get("raw")
        if isinstance(raw, str):
            return Path(raw).name
        return self.field_id or Path(self.output).name

    def describe(self) -> str:
        arms = "both arms" if self.arm == "both" else f"{self.arm} arm"
        where = f" ({arms}{', field ' + self.field_id if self.field_id else ''})"
        return f"{self.task} {self.frame}{where if self.arm else ''}"


@dataclass
class NightSteps:
    """The steps of a night in an order that respects ``needs``, and groups left out."""

    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    groups: list[ReductionGroup] = field(default_factory=list)

    def describe(self, outdir: str | Path | None = None) -> dict:
        """The plan as JSON-ready data: each group with the calibrations chosen and why,
        each step with its product (relative to ``outdir``), and the problems."""

        def rel(path: str) -> str:
            return str(Path(path).relative_to(outdir)) if outdir else path

        return {
            "groups": [
                {
                    "arm": g.arm,
                    "setup": g.setup,
                    "field": g.field_id,
                    "plate": g.plate,
                    "objects": g.objects,
                    "problems": g.problems,
                    "calibrations": {
                        role: {"files": c.files, "rule": c.rule} for role, c in g.choices.items()
                    },
                }
                for g in self.groups
            ],
            "steps": [
                {
                    "key": s.key,
                    "task": s.task,
                    "frame": s.frame,
                    "arm": s.arm,
                    "output": rel(s.output),
                    "needs": list(s.needs),
                    # what it read (absolute paths): the products' provenance (DataLink)
                    "inputs": {
                        role: list(v) if isinstance(v, (list, tuple)) else v
                        for role, v in s.inputs.items()
                    },
                }
                for s in self.steps
            ],
            "problems": self.problems,
        }

    def by_key(self) -> dict[str, Step]:
        return {s.key: s for s in self.steps}


def _field_stem(field_id: str) -> str:
    return field_id.split("/", 1)[-1] or "field"


def _digest(paths) -> str:
    return hashlib.sha1("\n".join(sorted(map(str, paths))).encode()).hexdigest()[:8]


class _Builder:
    """Collects steps once each (calibrations shared between groups) in dependency order."""

    def __init__(self, frames: pd.DataFrame, outdir: Path):
        self.out = outdir
        self.path_of = dict(zip(frames["file"], frames["path"], strict=True))
        self.night_of = dict(zip(frames["file"], frames["night"], strict=True))
        self.exposure_of = dict(zip(frames["file"], frames["exposed"], strict=True))
        self.steps: dict[str, Step] = {}
        self.grating = ""

    def add(self, step: Step) -> Step:
        if not step.grating:  # the group being built: 2dFdr's idx file depends on it
            step = dataclasses.replace(step, grating=self.grating)
        return self.steps.setdefault(step.key, step)

    def masters(self, g: ReductionGroup, night: str) -> tuple[dict[str, str], dict[str, str]]:
        """(role -> master file, role -> step key) for the group's bias and dark."""
        where = self.out / night / f"ccd_{g.ccd}"
        files, keys = {}, {}
        if "bias" in g.choices:
            raws = g.choices["bias"].files
            s = self.add(
                Step(
                    f"combine_bias:{night}/ccd_{g.ccd}/{_digest(raws)}",
                    "combine_bias",
                    str(where / "BIAScombined.fits"),
                    {"frames": tuple(self.path_of[f] for f in raws)},
                    arm=g.arm,
                )
            )
            files["bias"], keys["bias"] = s.output, s.key
        if "dark" in g.choices:
            raws = g.choices["dark"].files
            exposure = f"{float(self.exposure_of[raws[0]]):g}"
            s = self.add(
                Step(
                    f"combine_dark:{night}/ccd_{g.ccd}/{exposure}/{_digest(raws)}",
                    "combine_dark",
                    str(where / f"DARKcombined{exposure}.fits"),
                    {"frames": tuple(self.path_of[f] for f in raws), **_pick(files, "bias")},
                    tuple(keys.values()),
                    arm=g.arm,
                )
            )
            files["dark"], keys["dark"] = s.output, s.key
        return files, keys

    def calibration(
        self, g: ReductionGroup, role: str, task: str, suffix: str, inputs: dict, needs: tuple
    ) -> Step:
        file = g.choices[role].files[0]
        night = self.night_of[file]
        output = self.out / night / f"ccd_{g.ccd}" / f"{Path(file).stem}{suffix}.fits"
        return self.add(
            Step(
                f"{task}:{night}/{file}",
                task,
                str(output),
                {"raw": self.path_of[file], **inputs},
                needs,
                arm=g.arm,
            )
        )

    def group(self, g: ReductionGroup) -> Step:
        """The group's steps; returns its ``combine_image`` step."""
        self.grating = g.setup.split("/", 1)[0]
        night = self.night_of[g.objects[0]]
        masters, master_keys = self.masters(g, night)
        bias, bias_need = _pick(masters, "bias"), tuple(_pick(master_keys, "bias").values())
        tlm = self.calibration(g, "tlm", "make_tlm", "tlm", bias, bias_need)
        arc = self.calibration(
            g, "arc", "reduce_arc", "red", {"tlm": tlm.output, **bias}, (tlm.key, *bias_need)
        )
        fflat = self.calibration(
            g,
            "fflat",
            "reduce_fflat",
            "red",
            {"tlm": tlm.output, "arc": arc.output, **bias},
            (tlm.key, arc.key, *bias_need),
        )
        inputs = {"tlm": tlm.output, "arc": arc.output, "fflat": fflat.output, **masters}
        needs = (tlm.key, arc.key, fflat.key, *master_keys.values())
        objects = [
            self.add(
                Step(
                    f"reduce_object:{night}/{file}",
                    "reduce_object",
                    str(self.out / night / f"ccd_{g.ccd}" / f"{Path(file).stem}red.fits"),
                    {"raw": self.path_of[file], **inputs},
                    needs,
                    arm=g.arm,
                    field_id=g.field_id,
                )
            )
            for file in g.objects
        ]
        stem = _field_stem(g.field_id)
        return self.add(
            Step(
                f"combine_image:{night}/ccd_{g.ccd}/{stem}",
                "combine_image",
                str(self.out / night / f"ccd_{g.ccd}" / f"{stem}_combined.fits"),
                {"frames": tuple(s.output for s in objects)},
                tuple(s.key for s in objects),
                arm=g.arm,
                field_id=g.field_id,
                partial=True,
            )
        )

    def splice(self, field_id: str, blue: Step, red: Step) -> Step:
        night = field_id.split("/", 1)[0]
        output = self.out / night / "spliced" / f"{_field_stem(field_id)}_spliced.fits"
        return self.add(
            Step(
                f"splice:{field_id}",
                "splice",
                str(output),
                {"blue": blue.output, "red": red.output},
                (blue.key, red.key),
                arm="both",
                field_id=field_id,
                grating=blue.grating,
            )
        )


def _pick(mapping: dict, *keys: str) -> dict:
    return {k: mapping[k] for k in keys if k in mapping}


def night_steps(
    groups: list[ReductionGroup], frames: pd.DataFrame, outdir: str | Path
) -> NightSteps:
    """Steps that reduce every group of ``groups`` (from `plan_night` on ``frames``).

    Groups with problems (no tramline map or arc) are left out; their problems are listed.
    """
    builder = _Builder(frames, Path(outdir))
    result = NightSteps()
    combined: dict[str, dict[int, Step]] = {}
    for g in groups:
        if not g.ok:
            result.problems.extend(g.problems)
            continue
        combined.setdefault(g.field_id, {})[g.ccd] = builder.group(g)
    for field_id, arms in sorted(combined.items()):
        if 1 in arms and 2 in arms:
            builder.splice(field_id, arms[1], arms[2])
    result.steps = list(builder.steps.values())
    result.groups = list(groups)
    return result
