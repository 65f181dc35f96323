"""The built-in engine behind the step interface: one `Step` in, its product written."""

from __future__ import annotations

from collections.abc import Mapping

from .engine import merge, tasks
from .steps import Step


def run_step(step: Step, options: Mapping[str, str]) -> list[str]:
    """Run ``step`` with the built-in engine; returns log lines (what was done, to what)."""
    i = step.inputs
    bias, dark = i.get("bias"), i.get("dark")
    if step.task == "combine_bias":
        tasks.combine_calibration(i["frames"], step.output)
    elif step.task == "combine_dark":
        tasks.combine_calibration(i["frames"], step.output, bias=bias)
    elif step.task == "make_tlm":
        tasks.make_tlm(i["raw"], step.output, bias=bias, options=options)
    elif step.task == "reduce_arc":
        tasks.reduce_arc(i["raw"], i["tlm"], step.output, bias=bias, options=options)
    elif step.task == "reduce_fflat":
        tasks.reduce_fflat(i["raw"], i["tlm"], i["arc"], step.output, bias=bias, options=options)
    elif step.task == "reduce_object":
        tasks.reduce_object(i["raw"], i["tlm"], i["arc"], i["fflat"], step.output, bias=bias,
                            dark=dark, options=options)  # fmt: skip
    elif step.task == "combine_image":
        merge.combine_image(i["frames"], step.output, options)
    elif step.task == "splice":
        merge.splice(i["blue"], i["red"], step.output)
    else:
        raise ValueError(f"the built-in engine has no task {step.task!r}")
    return [f"{step.task}: wrote {step.output}"]
