"""The night sky over Siding Spring as a 2dF/AAOmega or Hector fibre sees it.

The sky is built from measured parts, each of which varies on its own through a night:

- the **continuum** and the **OH Meinel bands**, with their real line ratios, from PypeIt's
  model of the Paranal sky (`hectornb/data/sky`, derived by ``tools/derive_sky_model.py``);
- **[OI]** 5577, 6300 and 6363, whose 5577 strength is Paranal's and whose 6300/6363
  strength is set to what the real 2dF skies shipped with the platform show (the 6300/5577
  peak ratio 0.24–0.32 there; Paranal's model has 0.58);
- **NaD**, natural and from sodium street lighting, at Paranal's strength;
- **mercury** street-lighting lines (4047, 4358, 5461, 5770, 5791 Å) at the strength the
  real 2dF skies show (peaks ~0.2 of the continuum).

All wavelengths are in air, as 2dfdr's are. Lines are drawn at the spectrograph's
resolution, which on AAOmega is set by the fibre's image on the detector: 3.1 pixels FWHM
for 2dF's 140 µm fibres, and in proportion for Hector's 105 µm cores (2.3 pixels). Measured
on the real products: [OI] 5577 is 3.2–3.3 Å wide at 580V's 1.03 Å/pixel and the OH lines
5.1–5.6 Å at 385R's 1.57 Å/pixel, both on 2dfdr's 1.04 Å output grid, whose resampling adds
about a pixel in quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..instrument.aat import LINE_FWHM_PIXELS
from ..instrument.linelists import MERCURY_LINES, sky_model_continuum, sky_model_lines

#: [OI] 6300 and 6363 relative to the Paranal model, as the real 2dF skies show them.
OI_RED_SCALE = 0.48
#: The mercury street-lighting lines' strengths (integrated, in continuum-Å at 5000 Å) at
#: `MERCURY_LINES`: peaks ~0.2 of the continuum at 2dF's resolution, as in the real 2dF skies.
MERCURY_STRENGTHS = (0.7, 0.8, 0.8, 0.5, 0.5)


@dataclass(frozen=True)
class SkyConditions:
    """One exposure's sky, each part relative to the model's typical dark night.

    Attributes
    ----------
    continuum : float
        The continuum's level (1 on a dark night; a grey moon adds bluer light, ~3).
    moon_slope : float
        The continuum's extra slope from moonlight, as a power of wavelength/5000 Å.
    oh : float
        The OH bands' overall strength.
    oh_tilt : float
        How much redder bands change relative to bluer ones (per 1000 Å): the bands come
        from different vibrational levels, which do not vary together.
    oi_green, oi_red : float
        [OI] 5577 and [OI] 6300/6363, which vary independently of OH and of each other.
    sodium, mercury : float
        NaD and the mercury lighting lines.
    """

    continuum: float = 1.0
    moon_slope: float = 0.0
    oh: float = 1.0
    oh_tilt: float = 0.0
    oi_green: float = 1.0
    oi_red: float = 1.0
    sodium: float = 1.0
    mercury: float = 1.0


def conditions(
    rng: np.random.Generator, hours_after_dusk: float, moon: str = "dark"
) -> SkyConditions:
    """A plausible sky for an exposure ``hours_after_dusk`` into the night.

    OH is brighter after dusk and fades over the night, with changes of ~10 % between
    exposures; [OI] 6300 is strongest just after twilight; [OI] 5577 wanders on its own.
    ``moon`` is "dark" or "grey" (the continuum three times brighter and bluer).
    """
    if moon not in ("dark", "grey"):
        raise ValueError(f"moon must be 'dark' or 'grey', not {moon!r}")
    h = max(float(hours_after_dusk), 0.0)
    return SkyConditions(
        continuum=(3.0 if moon == "grey" else 1.0) * rng.lognormal(0, 0.05),
        moon_slope=-1.0 if moon == "grey" else 0.0,
        oh=(1.25 - 0.05 * min(h, 10.0)) * rng.lognormal(0, 0.1),
        oh_tilt=rng.normal(0, 0.05),
        oi_green=rng.lognormal(0, 0.15),
        oi_red=(1.0 + np.exp(-h / 1.5)) / 1.5 * rng.lognormal(0, 0.15),
        sodium=rng.lognormal(0, 0.1),
        mercury=rng.lognormal(0, 0.1),
    )


def _model() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (*sky_model_continuum(), *sky_model_lines())


def sky_lines(sky: SkyConditions = SkyConditions()) -> tuple[np.ndarray, np.ndarray]:
    """Every sky line (air wavelength in Å, integrated strength in the model's units × Å)
    under ``sky``."""
    base_wave, base, wave, flux, species = _model()
    scale = np.ones_like(flux)
    scale[species == "OH"] = sky.oh * (1 + sky.oh_tilt * (wave[species == "OH"] - 7500) / 1000)
    green = (species == "OI") & (np.abs(wave - 5577.3) < 1)
    scale[green] = sky.oi_green
    scale[(species == "OI") & ~green] = sky.oi_red * OI_RED_SCALE
    scale[species == "NaI"] = sky.sodium
    level = np.interp(5000.0, base_wave, base)
    hg_wave = np.array(MERCURY_LINES)
    hg_flux = np.array(MERCURY_STRENGTHS) * level * sky.mercury
    strength = np.concatenate([flux * np.clip(scale, 0, None), hg_flux])
    return np.concatenate([wave, hg_wave]), strength


def night_sky(
    wave: np.ndarray, fwhm: float | np.ndarray, sky: SkyConditions = SkyConditions()
) -> np.ndarray:
    """The sky's spectrum per Å at air wavelengths ``wave`` (Å, increasing), its lines drawn
    as Gaussians of ``fwhm`` (Å; one value, or one per pixel). Read as counts per Å per
    minute at unit throughput, the dark continuum is ~1.1 at 5000 Å and [OI] 5577 gives
    ~220 counts a minute."""
    base_wave, base, *_ = _model()
    wave = np.asarray(wave, float)
    out = np.interp(wave, base_wave, base) * sky.continuum * (wave / 5000.0) ** sky.moon_slope
    centres, strengths = sky_lines(sky)
    sigma = np.broadcast_to(np.asarray(fwhm, float) / 2.3548, wave.shape)
    reach = 6 * float(sigma.max())
    near = (centres > wave[0] - reach) & (centres < wave[-1] + reach) & (strengths > 0)
    # each line touches only the pixels within 6 sigma of it
    starts = np.searchsorted(wave, centres[near] - reach)
    stops = np.searchsorted(wave, centres[near] + reach)
    for c, f, a, b in zip(centres[near], strengths[near], starts, stops, strict=True):
        s = sigma[a:b]
        out[a:b] += f * np.exp(-0.5 * ((wave[a:b] - c) / s) ** 2) / (np.sqrt(2 * np.pi) * s)
    return out


def line_fwhm(dispersion: float | np.ndarray, instrument: str = "2df") -> float | np.ndarray:
    """A line's FWHM in Å on AAOmega at ``dispersion`` (Å/pixel) for ``instrument``'s
    fibres ("2df" or "hector")."""
    return LINE_FWHM_PIXELS[instrument] * dispersion
