"""Live reduction at the telescope: frames are reduced as they land in a watched directory.

Each round indexes the raw frames that appeared since the last (once their size has
settled: a frame still being written is left for the next round), and submits every new
object frame whose calibrations the plan can already find (a fibre flat and an arc of its
set-up). A frame taken before its calibrations waits for them. A frame the user has
already requested is not requested again, so a restarted watcher picks up where it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..db import engine as db
from ..instrument import parse_raw_filename
from .archive import frame_row, frames_for_reduction, store_index
from .plan import plan_night
from .service import submit
from .store import Reduction


@dataclass
class Watcher:
    """Watches ``rawdir`` for ``user``; call `poll` once per round (`run` loops it)."""

    rawdir: Path
    user: str
    options: Mapping[str, object] = field(default_factory=dict)
    engine: str = "builtin"
    settle_seconds: float = 2.0
    settings: Settings | None = None
    _sizes: dict[str, tuple[int, float]] = field(default_factory=dict)
    _indexed: set[str] = field(default_factory=set)

    def _settled(self) -> list[Path]:
        """Raw frames not yet indexed whose size has not changed for ``settle_seconds``."""
        now = time.monotonic()
        ready = []
        for path in sorted(Path(self.rawdir).rglob("*.fit*")):
            key = str(path.resolve())
            if key in self._indexed:
                continue
            try:
                parse_raw_filename(path.name)
                size = path.stat().st_size
            except (ValueError, OSError):
                continue
            seen = self._sizes.get(key)
            if seen is None or seen[0] != size:
                self._sizes[key] = (size, now)
            elif now - seen[1] >= self.settle_seconds:
                ready.append(path)
        return ready

    def poll(self) -> list[Reduction]:
        """One round: index what settled, submit what can be reduced; the new requests."""
        rows = []
        for path in self._settled():
            try:
                rows.append(frame_row(path))
            except (OSError, ValueError, KeyError):
                continue  # a header not yet whole: the next round
            self._indexed.add(rows[-1]["path"])
        if rows:
            import pandas as pd

            store_index(pd.DataFrame(rows), self.settings)
        return [self._submit(path) for path in self._ready_objects()]

    def _ready_objects(self) -> list[str]:
        """Indexed object frames under ``rawdir`` that the user has not requested yet and
        whose calibrations are there."""
        prefix = str(Path(self.rawdir).resolve()) + "/"
        with db.connect(self.settings) as conn:
            rows = conn.execute(
                "SELECT path FROM raw_frame f WHERE starts_with(path, %s)"
                " AND ndfclass = 'MFOBJECT' AND NOT EXISTS (SELECT 1 FROM reduce_job j"
                "  WHERE j.owner = %s AND f.path = ANY(j.frames)) ORDER BY path",
                (prefix, self.user),
            ).fetchall()
        ready = []
        for row in rows:
            frames = frames_for_reduction([row["path"]], self.settings)
            groups = plan_night(
                frames[(frames["ndfclass"] != "MFOBJECT") | (frames["path"] == row["path"])]
            )
            if groups and all(g.ok for g in groups):
                ready.append(row["path"])
        return ready

    def _submit(self, path: str) -> Reduction:
        return submit(
            self.user,
            [path],
            options=dict(self.options),
            engine=self.engine,
            settings=self.settings,
        )

    def run(
        self,
        interval: float = 10.0,
        on_job: Callable[[Reduction], None] | None = None,
        rounds: int | None = None,
    ) -> None:
        """Poll every ``interval`` seconds (``rounds`` times, or until interrupted)."""
        done = 0
        while rounds is None or done < rounds:
            for job in self.poll():
                if on_job:
                    on_job(job)
            done += 1
            time.sleep(interval)
