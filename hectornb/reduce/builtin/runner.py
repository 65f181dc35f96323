"""The built-in engine behind the step interface: one `Step` in, its product written.

Each task a plan may contain is one entry of `TASKS`: a function of the step's inputs (file
paths by role: ``raw``, ``tlm``, ``arc``, ``fflat``, ``bias``, ``dark``, ``frames``, ``blue``,
``red``), its output path and the resolved options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ... import __version__
from ..steps import Step
from . import merge, tasks

#: ``task(inputs, output, options)`` writes the product at ``output``.
Task = Callable[[Mapping, str, Mapping[str, str]], None]

TASKS: dict[str, Task] = {
    "combine_bias": lambda i, out, opt: tasks.combine_calibration(i["frames"], out),
    "combine_dark": lambda i, out, opt: tasks.combine_calibration(
        i["frames"], out, bias=i.get("bias")
    ),
    "make_tlm": lambda i, out, opt: tasks.make_tlm(i["raw"], out, bias=i.get("bias"), options=opt),
    "reduce_arc": lambda i, out, opt: tasks.reduce_arc(
        i["raw"], i["tlm"], out, bias=i.get("bias"), options=opt
    ),
    "reduce_fflat": lambda i, out, opt: tasks.reduce_fflat(
        i["raw"], i["tlm"], i["arc"], out, bias=i.get("bias"), options=opt
    ),
    "reduce_object": lambda i, out, opt: tasks.reduce_object(
        i["raw"],
        i["tlm"],
        i["arc"],
        i["fflat"],
        out,
        bias=i.get("bias"),
        dark=i.get("dark"),
        options=opt,
    ),
    "combine_image": lambda i, out, opt: merge.combine_image(i["frames"], out, opt),
    "splice": lambda i, out, opt: merge.splice(i["blue"], i["red"], out),
}


def run_step(
    step: Step, options: Mapping[str, str], version: str = "", attempt: object = None
) -> list[str]:
    """Run ``step`` with the built-in engine; returns log lines (what was done, to what).

    ``version``, when given, must be this worker's hectornb release: the request asked for
    that release's products (the scheduler sends such steps to workers that have it). A retry
    (``attempt``) runs the same way: the step is a pure function of its inputs."""
    if version and version != __version__:
        raise RuntimeError(f"this worker runs hectornb {__version__}, not {version}")
    task = TASKS.get(step.task)
    if task is None:
        raise ValueError(f"the built-in engine has no task {step.task!r}")
    task(step.inputs, step.output, options)
    return [f"{step.task}: wrote {step.output}"]
