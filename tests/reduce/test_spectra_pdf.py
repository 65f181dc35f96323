"""``hectornb spectra pdf``: every spectrum of a product in a PDF, on the real 2dfdr files."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from hectornb.spectra import read
from hectornb.spectra.pdf import spectra_pdf
from hectornb.spectra.products import EXAMPLES

FIXTURES = EXAMPLES
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("name", ["emlLinearSkyAirHelio.fits", "emlLogVacuumHelioCMB.fits"])
def test_every_fibre_gets_a_panel_with_its_name_and_type(name, tmp_path):
    frame = read(FIXTURES / name)
    out = spectra_pdf(FIXTURES / name, tmp_path / "s.pdf")
    reader = PdfReader(out)
    assert len(reader.pages) == math.ceil(frame.n_fibres / 8)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for i in (0, frame.n_fibres - 1):
        assert f"{i + 1} {str(frame.fibres['NAME'][i]).strip()}" in text
    assert f"of {frame.n_fibres}" in text and "wavelength" in text
    assert reader.metadata.title == name


def test_the_command_line_writes_it_or_says_why(tmp_path):
    out = tmp_path / "all.pdf"
    ok = subprocess.run(
        [
            str(BIN / "hectornb"),
            "spectra",
            "pdf",
            str(FIXTURES / "quasarLinearSkyAirNoHelio.fits"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes().startswith(b"%PDF")
    bad = subprocess.run(
        [str(BIN / "hectornb"), "spectra", "pdf", str(tmp_path / "none.fits"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "none.fits" in bad.stderr
