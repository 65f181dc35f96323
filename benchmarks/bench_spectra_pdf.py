"""``hectornb spectra pdf`` on a full-size 400-fibre 2dF product: seconds to write it.

    .venv/bin/python benchmarks/bench_spectra_pdf.py

A full-size 2dF red object frame is simulated and reduced with the built-in engine, then
every spectrum is drawn into a PDF (issue 5's target: <= 20 s for 400 fibres). The
reference printed beside it is matplotlib's plain way, a new figure per page with fresh
axes, on the first 80 fibres, scaled to 400.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def plain(path: Path, out: Path, n: int) -> float:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from hectornb.spectra import read

    frame = read(path)
    t0 = time.perf_counter()
    with PdfPages(out) as pdf:
        for start in range(0, n, 8):
            fig, axes = plt.subplots(4, 2, figsize=(8.27, 11.69))
            for ax, i in zip(axes.ravel(), range(start, start + 8), strict=False):
                ax.plot(frame.fibre_wavelength(i).value, frame.flux[i], lw=0.5)
                ax.set_title(str(frame.fibres["NAME"][i]))
            pdf.savefig(fig)
            plt.close(fig)
    return time.perf_counter() - t0


def main() -> int:
    from hectornb.reduce.builtin import tasks
    from hectornb.simulate import simulate_calibrations
    from hectornb.spectra.pdf import spectra_pdf

    with tempfile.TemporaryDirectory(prefix="hnb-pdf-") as tmp:
        tmp = Path(tmp)
        paths = simulate_calibrations(tmp, "2df", 2, size="full", seed=3, with_object=True)
        tlm = tasks.make_tlm(paths["flat"], tmp / "tlm.fits")
        arc = tasks.reduce_arc(paths["arc"], tlm, tmp / "arc.fits")
        flat = tasks.reduce_fflat(paths["flat"], tlm, arc, tmp / "flat.fits")
        red = tasks.reduce_object(paths["object"], tlm, arc, flat, tmp / "objred.fits")
        n = read_n(red)
        t0 = time.perf_counter()
        out = spectra_pdf(red, tmp / "all.pdf")
        seconds = time.perf_counter() - t0
        reference = plain(red, tmp / "plain.pdf", 80) * n / 80
        print(
            f"{n} fibres: {seconds:.1f} s, {out.stat().st_size / 1e6:.1f} MB "
            f"(target <= 20 s); matplotlib's plain way ~{reference:.1f} s "
            f"(ratio {reference / seconds:.1f}x)"
        )
    return 0


def read_n(path) -> int:
    from hectornb.spectra import read

    return read(path).n_fibres


if __name__ == "__main__":
    sys.exit(main())
