"""The night report: one night's log on paper (PDF), as observatories send at the end of a
night: the run and observers, every entry (time, tile, exposure, seeing, transparency, QC,
comment, who), the totals (time on sky, time lost and why) and the seeing through the night.
"""

from __future__ import annotations

import datetime as dt
import statistics
import textwrap
from pathlib import Path

from ..paper import PDF_FONTS
from .store import ObslogStore

_COLUMNS = ("UT", "tile", "exp (s)", "seeing (″)", "transparency", "QC", "comment", "by")


def _entries(store: ObslogStore, night: dt.date) -> tuple[list[dict], list[dict]]:
    logs = store.every("logs", {"night": [night.isoformat()], "order_by": ["time", "created"]})
    # in time order; entries with no time stay in the order they were written, after
    logs.sort(
        key=lambda g: (g["time"] is None, g["time"] or dt.datetime.min.replace(tzinfo=dt.UTC))
    )
    runs = store.by_ids("runs", sorted({g["run_id"] for g in logs if g["run_id"]}))
    return logs, list(runs.values())


def night_report(night: dt.date | str, out: str | Path, store: ObslogStore | None = None) -> Path:
    """Write the report of ``night`` (the local date of its evening) to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    night = night if isinstance(night, dt.date) else dt.date.fromisoformat(str(night))
    store = store or ObslogStore()
    logs, runs = _entries(store, night)
    exposure = sum(g["exposure"] or 0 for g in logs) / 3600
    lost = sum(g["time_lost"] or 0 for g in logs)
    reasons = sorted({g["lost_reason"] for g in logs if g["lost_reason"]})
    seeing = [g["seeing"] for g in logs if g["seeing"] is not None]
    lines = [
        f"Night report {night.isoformat()}",
        "Run: "
        + (
            ", ".join(
                f"{r['run_id']} ({', '.join(r['observers']) or 'no observers'};"
                f" {r['instrument'] or 'instrument not given'})"
                for r in runs
            )
            or "none recorded"
        ),
        f"{len(logs)} log entries; {exposure:.2f} h of exposure; {lost:.2f} h lost"
        + (f" ({'; '.join(reasons)})" if reasons else ""),
        "Seeing: "
        + (
            f"median {statistics.median(seeing):.2f}″, best {min(seeing):.2f}″,"
            f" worst {max(seeing):.2f}″"
            if seeing
            else "not recorded"
        ),
    ]
    rows = [
        [
            g["time"].strftime("%H:%M") if g["time"] else "",
            g["tile_id"] or "",
            f"{g['exposure']:.0f}" if g["exposure"] is not None else "",
            f"{g['seeing']:.2f}" if g["seeing"] is not None else "",
            g["transparency"] or "",
            g["qc"] or "",
            textwrap.shorten(g["comment"] or "", 60),
            g["author"],
        ]
        for g in logs
    ]
    out = Path(out)
    per_page = 28
    with (
        matplotlib.rc_context({**PDF_FONTS, "font.size": 8}),
        PdfPages(out, metadata={"Title": lines[0], "Creator": "hectornb"}) as pdf,
    ):
        for start in range(0, max(len(rows), 1), per_page):
            fig = plt.figure(figsize=(11.69, 8.27))  # A4 landscape
            fig.text(0.04, 0.95, lines[0], fontsize=14, weight="bold")
            for k, text in enumerate(lines[1:]):
                fig.text(0.04, 0.91 - 0.025 * k, text)
            if start == 0 and seeing:
                _seeing_plot(fig.add_axes((0.70, 0.78, 0.26, 0.17)), logs, mdates)
            chunk = rows[start : start + per_page]
            ax = fig.add_axes((0.04, 0.04, 0.92, 0.68))
            ax.axis("off")
            if chunk:
                table = ax.table(
                    cellText=chunk,
                    colLabels=_COLUMNS,
                    loc="upper left",
                    cellLoc="left",
                    colLoc="left",
                    colWidths=(0.05, 0.22, 0.06, 0.07, 0.09, 0.05, 0.36, 0.10),
                )
                table.auto_set_font_size(False)
                table.set_fontsize(7)
            else:
                ax.text(0, 1, "No log entries for this night.", va="top")
            pdf.savefig(fig)
            plt.close(fig)
    return out


def _seeing_plot(ax, logs: list[dict], mdates) -> None:
    """Seeing through the night: against UT where the entries have times, else in the order
    of the entries."""
    measured = [g for g in logs if g["seeing"] is not None]
    timed = [g for g in measured if g["time"]]
    if timed:
        ax.plot([g["time"] for g in timed], [g["seeing"] for g in timed], "o-", ms=3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
        ax.set_xlabel("UT")
    else:
        ax.plot(range(1, len(measured) + 1), [g["seeing"] for g in measured], "o-", ms=3)
        ax.set_xlabel("log entry")
    ax.set_ylabel("seeing (″)")
    ax.tick_params(labelsize=6)
