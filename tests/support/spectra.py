"""Reduced products in the spectrum index, as the VO services serve them: real 2dfdr
products (AAOmega 385R, shipped with the package), one of a public programme and one copy
moved to another field and made a proprietary programme's, reduced by ``dave``, of which
``carol`` is a member."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

from astropy.io import fits

from hectornb.spectra.products import EXAMPLES

PUBLIC_PROGRAMME = "A/2014B/008"  # the real products' AAOPRGID
PRIVATE_PROGRAMME = "X/2099A/001"
PUBLIC_FROM = dt.date(2016, 7, 1)


def publish_products(folder: Path) -> dict:
    """Both products under ``folder`` (as a request's folder holds them), their programmes
    set and their spectra published; what a test needs to know of them."""
    from hectornb.reduce.access import set_programme
    from hectornb.spectra.index import SpectrumIndex
    from hectornb.spectra.io import read_2dfdr

    request = folder / uuid.uuid4().hex[:16]
    request.mkdir(parents=True)
    public = request / "emlLinearSkyAirHelio.fits"
    shutil.copy(EXAMPLES / public.name, public)
    private = request / "quasarLinearSkyAirNoHelio.fits"
    with fits.open(EXAMPLES / private.name) as hdul:
        hdul[0].header["AAOPRGID"] = PRIVATE_PROGRAMME
        for name in ("FIBRES", "MORE.FIBRES_IFU"):  # another field: 10 degrees north
            if name in [h.name for h in hdul]:
                hdul[name].data["DEC"] = hdul[name].data["DEC"] + 0.17453292519943295
        hdul.writeto(private)
    set_programme(PUBLIC_PROGRAMME, PUBLIC_FROM)
    set_programme(PRIVATE_PROGRAMME, None, members=("carol",))
    index = SpectrumIndex()
    index.add_product(public, "reduce_object", "bob")
    index.add_product(private, "splice", "dave")
    out = {}
    for key, path in (("public", public), ("private", private)):
        frame = read_2dfdr(path)
        fibres = frame.fibres
        out[key] = {
            "path": path,
            "frame": frame,
            "did": f"ivo://{index.authority}/spectra?{request.name}/{path.stem}/0",
            "ra": float(fibres["RA"][0].value),
            "dec": float(fibres["DEC"][0].value),
        }
    return out
