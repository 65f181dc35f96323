"""Reduction options under 2dFdr's names, and the PAWS form's short names mapped onto them.

Every engine takes the same option names, so a request means the same thing whichever
engine runs it: the built-in engine implements the options in `OPTIONS`; the 2dFdr engines
pass every option to ``aaorun`` as ``-NAME VALUE`` (2dFdr knows many more, so names the
built-in engine does not know are allowed there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import Invalid
from .engines import parse_engine

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# a 2dFdr value: printable ASCII, no quotes (2dFdr's completion line has them), and a
# number if it starts with "-" (else aaorun would read it as an option's name)
_VALUE = re.compile(r"(?!-)[ !#-~]{0,200}|-[0-9][0-9.eE+-]{0,30}")
# an idx file is one of 2dFdr's own, by name: never a path to elsewhere on the machine
_IDX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}\.idx")
_GRATING = re.compile(r"[A-Za-z0-9]{1,16}")
# what the engine itself gives each aaorun command: the files of the step and where it works
_ENGINE_SETS = re.compile(r".*_FILENAME|OUT_DIRNAME|WDIR|COMBINEDFILE|OUTPUT_FILE")
_BUILTIN_VALUES = {"PROFILE"}


class OptionError(Invalid):
    """An option name or value the engine cannot use; the message says which and why."""


@dataclass(frozen=True)
class Option:
    """One reduction option: its 2dFdr name, allowed values, default, and meaning."""

    name: str
    default: str
    help: str
    choices: tuple[str, ...] = ("0", "1")

    def normalise(self, value: object) -> str:
        text = str(value).strip()
        if self.choices == ("0", "1"):
            low = text.lower()
            if low in _TRUE:
                return "1"
            if low in _FALSE:
                return "0"
        elif self.choices:
            for choice in self.choices:
                if text.upper() == choice:
                    return choice
        else:
            try:
                float(text)
            except ValueError:
                raise OptionError(f"{self.name}={text!r}: a number is required") from None
            return text
        raise OptionError(f"{self.name}={text!r}: allowed values are {', '.join(self.choices)}")


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option("USEBIASIM", "1", "subtract the master bias (off when the night has no bias)"),
        Option("USEDARKIM", "1", "subtract the dark scaled by exposure (off when no dark)"),
        Option(
            "COSRAY_MTHD",
            "PROFILE",
            "cosmic rays: NONE; PROFILE, pixels above the optimal-extraction profile model "
            "rejected (Horne 1986); LACOSMIC, astroscrappy's L.A.Cosmic on the image first",
            ("NONE", "PROFILE", "LACOSMIC"),
        ),
        Option("CRSIG", "5", "PROFILE rejection threshold (sigma)", ()),
        Option(
            "EXTR_OPERATION",
            "OPTEX",
            "OPTEX: optimal extraction, neighbouring fibres fitted together",
            ("OPTEX",),
        ),
        Option("USEFFLAT", "1", "divide by the fibre flat (relative fibre throughput)"),
        Option("SKYSUB", "1", "subtract the sky (median of the sky fibres)"),
        Option(
            "SKYSCRUNCH",
            "1",
            "shift each fibre's wavelengths onto the sky lines (flexure since the arc)",
        ),
        Option("PCASKY", "0", "PCA sky residual removal after sky subtraction"),
        Option("PCANUM", "5", "PCASKY: principal components fitted", ()),
        Option(
            "TELCOR",
            "0",
            "telluric correction of the O2 and H2O bands, measured on the "
            "frame's bright programme fibres",
        ),
        Option("TELSN", "5", "TELCOR: continuum S/N per pixel a fibre needs to take part", ()),
        Option("INC_RWSS", "0", "keep the spectra before sky subtraction (RWSS extension)"),
        Option("CSIGREJ", "5", "combining exposures: rejection threshold (sigma)", ()),
    )
}

# Data Central's PAWS form: BIAS, DARK, COSMIC, SKYSCR, PCASKY, TELCOR, RWSS.
FORM_NAMES: dict[str, str] = {
    "BIAS": "USEBIASIM",
    "DARK": "USEDARKIM",
    "COSMIC": "COSRAY_MTHD",
    "SKYSCR": "SKYSCRUNCH",
    "PCASKY": "PCASKY",
    "TELCOR": "TELCOR",
    "RWSS": "INC_RWSS",
}


def defaults() -> dict[str, str]:
    """Every option at its default value."""
    return {name: o.default for name, o in OPTIONS.items()}


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["NAME=VALUE", …]`` (the command line's ``--option``) as a dict, in order."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise OptionError(f"{pair!r}: options are written NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def resolve(requested: Mapping[str, object], engine: str = "builtin") -> dict[str, str]:
    """``requested`` (2dFdr or form names, any case) validated, in 2dFdr's names.

    For the built-in engine every name must be one of `OPTIONS`, and the defaults fill in
    the rest. For the 2dFdr engines only what was requested is returned (the idx file holds
    2dFdr's defaults) and unknown names pass through (2dFdr has hundreds), but must look
    like 2dFdr names; ``IDXFILE`` chooses the idx file.
    """
    builtin = parse_engine(engine)[0].own_options
    options = defaults() if builtin else {}
    for raw_name, value in requested.items():
        name = FORM_NAMES.get(str(raw_name).upper(), str(raw_name).upper())
        if name in OPTIONS:
            options[name] = OPTIONS[name].normalise(value)
            if not builtin and options[name] in _BUILTIN_VALUES:
                raise OptionError(
                    f"{name}={options[name]} is the built-in engine's; 2dFdr does not have it"
                )
        elif not builtin and _NAME.fullmatch(name):
            if _ENGINE_SETS.fullmatch(name):
                raise OptionError(
                    f"{name} is set by the platform for each 2dFdr command (the step's own "
                    "files and folder); a request cannot give it"
                )
            text = str(value).strip()
            if not _VALUE.fullmatch(text):
                raise OptionError(
                    f"{name}: a 2dFdr value is at most 200 printable ASCII characters, "
                    'without quotes ("), and starts with "-" only as a number'
                )
            if name == "IDXFILE":
                idx_files(text)  # refused here, when requested, if malformed
            options[name] = text
        else:
            known = ", ".join(sorted(OPTIONS))
            raise OptionError(
                f"unknown option {raw_name!r} for the {engine} engine (known: {known}; "
                f"form names: {', '.join(FORM_NAMES)})"
            )
    return options


def idx_files(value: str) -> dict[str, str]:
    """``IDXFILE``'s value as {grating: idx file}, the key "" for every grating.

    It is the name of one of 2dFdr's idx files (``NAME.idx``, not a path) for every arm,
    or one per grating: ``385R:my385R.idx,580V:hector1_v4.idx``. Raises `OptionError`.
    """
    if _IDX.fullmatch(value):
        return {"": value}
    out: dict[str, str] = {}
    for part in value.split(","):
        grating, colon, idx = (x.strip() for x in part.partition(":"))
        if not (colon and _GRATING.fullmatch(grating) and _IDX.fullmatch(idx)):
            raise OptionError(
                f"IDXFILE={value!r}: the name of one of 2dFdr's idx files (NAME.idx), not a "
                "path, or one per grating (GRATING:NAME.idx, comma-separated: "
                "385R:my385R.idx,580V:hector1_v4.idx)"
            )
        if grating in out:
            raise OptionError(f"IDXFILE={value!r}: grating {grating} is given twice")
        out[grating] = idx
    return out


def non_defaults(options: Mapping[str, str]) -> dict[str, str]:
    """The options that differ from the defaults (what a request shows its user)."""
    base = defaults()
    return {k: v for k, v in options.items() if base.get(k) != v}
