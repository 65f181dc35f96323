"""From a night's frames to reduction groups, with calibrations chosen as a person would.

Object frames are grouped by arm, plate, grating set-up and field (night + configuration
file). For each group the calibrations nearest in time (EPOCH) are chosen through the
SAMI/Hector managers' cascade of ever looser rules, and every choice records the rule that
made it:

- tramline map and fibre flat: an MFFFF frame, dome lamp, same night/plate/field/arm/set-up
  (``tlmap``); then the same arm and set-up on any night (``tlmap_loose``); then the flap
  lamp, strict then loose (``tlmap_flap``, ``tlmap_flap_loose``);
- arc: an MFARC frame, same night/plate/field/arm/set-up (``wavel``), then any night with the
  same arm and set-up (``wavel_loose``);
- bias: BIAS frames of the same arm, nearest night; none switches bias subtraction off;
- dark: DARK frames of the same arm, the exposure time closest to the objects'; none
  switches dark subtraction off.

A group without a tramline map or an arc cannot be reduced: it carries a problem naming its
object frames and what is missing, and the other groups are unaffected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # frames come as a DataFrame; this module needs no pandas of its own
    import pandas as pd

_GROUP = ["ccd", "plate", "setup", "field_id"]
# (rule, same night/plate/field?, lamp) in the order they are tried
_FLAT_STEPS = (
    ("tlmap", True, "Dome"),
    ("tlmap_loose", False, "Dome"),
    ("tlmap_flap", True, "Flap"),
    ("tlmap_flap_loose", False, "Flap"),
)
CASCADES = {
    "tlm": ("MFFFF", _FLAT_STEPS),
    "arc": ("MFARC", (("wavel", True, None), ("wavel_loose", False, None))),
    "fflat": ("MFFFF", tuple((r.replace("tlmap", "fflat"), s, lp) for r, s, lp in _FLAT_STEPS)),
}


@dataclass
class Choice:
    """A calibration picked for a group, and the rule that picked it."""

    role: str
    files: list[str]
    rule: str

    def describe(self) -> str:
        return f"{self.role}: {', '.join(self.files) or '(none)'} [{self.rule}]"


@dataclass
class ReductionGroup:
    """Object frames reduced together with the same calibrations."""

    arm: str
    ccd: int
    plate: int | None
    setup: str
    field_id: str
    objects: list[str]
    choices: dict[str, Choice] = field(default_factory=dict)
    options: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _nearest(candidates: pd.DataFrame, epoch: float) -> pd.DataFrame:
    return candidates.iloc[(candidates["epoch"] - epoch).abs().argsort()]


def _cascade(
    frames: pd.DataFrame, group: pd.Series, epoch: float, ndfclass: str, steps: tuple
) -> tuple[str, str] | None:
    """First match of the cascade: (file, rule). Each step: (rule, strict, lamp)."""
    pool = frames[
        (frames["ndfclass"] == ndfclass)
        & (frames["ccd"] == group["ccd"])
        & (frames["setup"] == group["setup"])
    ]
    for rule, strict, lamp in steps:
        cands = pool
        if strict:
            cands = cands[
                (cands["field_id"] == group["field_id"]) & (cands["plate"] == group["plate"])
            ]
        if lamp is not None:
            cands = cands[cands["lamp"] == lamp]
        if len(cands):
            return _nearest(cands, epoch).iloc[0]["file"], rule
    return None


def _missing(value) -> bool:
    """None, NaN or pandas' NA (a plate the index could not read)."""
    try:
        return value is None or math.isnan(value)
    except TypeError:
        return str(value) in ("<NA>", "NaT", "nan")


def plan_night(frames: pd.DataFrame) -> list[ReductionGroup]:
    """Reduction groups for every object frame in ``frames`` (an archive index)."""
    objects = frames[frames["ndfclass"] == "MFOBJECT"]
    groups = []
    for key, members in objects.groupby(_GROUP, sort=True, dropna=False):
        ccd, plate, setup, field_id = key
        row = members.iloc[0]
        g = ReductionGroup(
            arm=row["arm"],
            ccd=int(ccd),
            plate=None if _missing(plate) else int(plate),
            setup=setup,
            field_id=field_id,
            objects=list(members["file"]),
        )
        epoch = float(members["epoch"].mean())
        for role, (ndf, steps) in CASCADES.items():
            found = _cascade(frames, row, epoch, ndf, steps)
            if found is None:
                what = "fibre flat (MFFFF)" if ndf == "MFFFF" else "arc (MFARC)"
                g.problems.append(
                    f"no {what} with set-up {setup} on the {row['arm']} arm for "
                    f"{', '.join(g.objects)}: a {role} is required"
                )
            else:
                g.choices[role] = Choice(role, [found[0]], found[1])
        arm_frames = frames[frames["ccd"] == ccd]
        biases = arm_frames[arm_frames["ndfclass"] == "BIAS"]
        if len(biases):
            night = _nearest(biases, epoch).iloc[0]["night"]
            g.choices["bias"] = Choice(
                "bias",
                list(biases[biases["night"] == night]["file"]),
                "bias: same arm, nearest night",
            )
        g.options["USEBIASIM"] = int(len(biases) > 0)
        darks = arm_frames[arm_frames["ndfclass"] == "DARK"]
        if len(darks):
            exposure = float(members["exposed"].median())
            best = darks.iloc[(darks["exposed"] - exposure).abs().argsort()].iloc[0]["exposed"]
            g.choices["dark"] = Choice(
                "dark",
                list(darks[darks["exposed"] == best]["file"]),
                f"dark: same arm, closest exposure ({best:g} s)",
            )
        g.options["USEDARKIM"] = int(len(darks) > 0)
        groups.append(g)
    return groups


def describe_plan(groups: list[ReductionGroup]) -> str:
    """The plan as text, for people (``hectornb reduce plan``)."""
    lines = []
    for g in groups:
        plate = "?" if g.plate is None else g.plate
        lines.append(
            f"{g.arm} arm, plate {plate}, set-up {g.setup}, field {g.field_id}: "
            f"{len(g.objects)} object frames ({', '.join(g.objects)})"
        )
        for choice in g.choices.values():
            lines.append(f"    {choice.describe()}")
        off = [k for k, v in g.options.items() if not v]
        if off:
            lines.append(f"    off: {', '.join(f'{k}=0' for k in off)} (no frames for them)")
        for problem in g.problems:
            lines.append(f"    PROBLEM: {problem}")
    return "\n".join(lines)
