"""Every spectrum of a product on paper: ``hectornb spectra pdf FILE -o OUT.pdf``.

Eight panels a page, each one fibre's flux against wavelength (Angstrom) with its name,
number and type. One figure is drawn once and its lines are replaced page after page
(building 400 sets of axes took most of the time), and a spectrum longer than the panel is
wide in pixels is reduced to each column's minimum and maximum, which looks the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..paper import PDF_FONTS
from .io import read_2dfdr

PANELS = (4, 2)  # rows, columns
TYPES = {"P": "program", "S": "sky", "F": "guide", "U": "unused", "N": "broken"}
#: How every view of a field draws each fibre type (the field plot, the sky view).
TYPE_COLOURS = {"P": "#1f6fb2", "S": "#2e9e4f", "F": "#e08a00", "U": "#9aa3ad", "N": "#c8322d"}


def _envelope(wave: np.ndarray, flux: np.ndarray, width: int = 700):
    """At most ``2 * width`` points tracing the min and max of each column's pixels."""
    if flux.size <= 2 * width:
        return wave, flux
    edges = np.linspace(0, flux.size, width + 1).astype(int)
    lo = np.minimum.reduceat(np.nan_to_num(flux, nan=np.inf), edges[:-1])
    hi = np.maximum.reduceat(np.nan_to_num(flux, nan=-np.inf), edges[:-1])
    mid = wave[(edges[:-1] + edges[1:]) // 2]
    empty = ~(np.isfinite(lo) & np.isfinite(hi))  # columns of NaN (a gap between the arms)
    lo[empty] = hi[empty] = np.nan  # stay gaps: the line breaks there instead of bridging
    return np.repeat(mid, 2), np.column_stack([lo, hi]).ravel()


def spectra_pdf(path: str | Path, out: str | Path, title: str | None = None) -> Path:
    """Write a PDF with every fibre's spectrum of the 2dfdr product ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    frame = read_2dfdr(path)
    out = Path(out)
    names = [str(n) for n in frame.fibres["NAME"]] if "NAME" in frame.fibres.colnames else []
    kinds = [str(k) for k in frame.fibres["TYPE"]] if "TYPE" in frame.fibres.colnames else []
    title = title or Path(path).name
    per_page = PANELS[0] * PANELS[1]
    with (
        matplotlib.rc_context({**PDF_FONTS, "font.size": 7, "axes.titlesize": 7}),
        PdfPages(out, metadata={"Title": title, "Creator": "hectornb"}) as pdf,
    ):
        fig, axes = plt.subplots(*PANELS, figsize=(8.27, 11.69))  # A4
        axes = axes.ravel()
        lines = [ax.plot([], [], lw=0.5, color="#17324d")[0] for ax in axes]
        for ax in axes[-PANELS[1] :]:
            ax.set_xlabel("wavelength (Å)")
        for start in range(0, frame.n_fibres, per_page):
            fig.suptitle(
                f"{title}: fibres {start + 1}–{min(start + per_page, frame.n_fibres)}"
                f" of {frame.n_fibres}; flux against wavelength (Å)"
            )
            for k, (ax, line) in enumerate(zip(axes, lines, strict=True)):
                i = start + k
                ax.set_visible(i < frame.n_fibres)
                if i >= frame.n_fibres:
                    continue
                wave = np.asarray(frame.fibre_wavelength(i).value, float)
                flux = np.asarray(frame.flux[i], float)
                kind = kinds[i] if i < len(kinds) else ""
                name = names[i] if i < len(names) else ""
                ax.set_title(f"{i + 1} {name} ({TYPES.get(kind, kind)})", loc="left")
                if np.isfinite(flux).any():
                    line.set_data(*_envelope(wave, flux))
                    lo, hi = np.nanpercentile(flux, [0.5, 99.5])
                    pad = 0.05 * (hi - lo) or 1.0
                    ax.set_xlim(np.nanmin(wave), np.nanmax(wave))
                    ax.set_ylim(lo - pad, hi + pad)
                else:
                    line.set_data([], [])
                    ax.set_title(f"{i + 1} {name} ({TYPES.get(kind, kind)}): no data", loc="left")
            pdf.savefig(fig)
        plt.close(fig)
    return out
