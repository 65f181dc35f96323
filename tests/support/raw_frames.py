"""Raw frames made unusable in the ways a night's frames are: the archive still indexes
them (their headers are whole), the reduction cannot use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits


def break_data(path: Path) -> None:
    """Keep the header and fibre table, make the image all zeros."""
    with fits.open(path) as hdul:
        header, fibres = hdul[0].header, hdul["FIBRES"].copy()
    data = np.zeros((int(header["NAXIS2"]), int(header["NAXIS1"])), np.uint16)
    fits.HDUList([fits.PrimaryHDU(data, header), fibres]).writeto(path, overwrite=True)
