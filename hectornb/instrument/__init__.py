"""Facts about the AAT, 2dF, AAOmega and Hector: file naming, arms, gratings, detectors.

Sources: the headers of real 2dfdr products (``tests/data``), the SAMI/Hector managers' file
conventions and the AAOmega documentation, summarised in the project's research notes.
"""

from .aat import (
    ARMS,
    GRATINGS,
    Arm,
    Grating,
    night_date,
    night_dir,
    night_key,
    night_time,
    other_arm,
    parse_raw_filename,
    raw_filename,
)
from .linelists import (
    LAMP_SPECTRA,
    arc_atlas,
    arc_lines,
    flexure_lines,
    lamp_lines,
    lamps_named,
    line_list,
    one_per_line,
)

__all__ = [
    "ARMS",
    "GRATINGS",
    "LAMP_SPECTRA",
    "Arm",
    "Grating",
    "arc_atlas",
    "arc_lines",
    "flexure_lines",
    "lamp_lines",
    "lamps_named",
    "line_list",
    "night_date",
    "night_dir",
    "night_key",
    "night_time",
    "one_per_line",
    "other_arm",
    "parse_raw_filename",
    "raw_filename",
]
