"""The spectra of reduced products in PostgreSQL: what ObsCore, SSA and DataLink serve.

A product's spectra are written in one transaction when the product is (`add_product`),
replacing what an earlier run of the same product wrote. Every read goes through the
``hectornb_pub.obscore`` view, which alone decides who sees a row (its programme is public,
or the caller asked for the reduction or is a member of its programme): the caller and the
service's own address are set for the transaction, never taken from a query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from ..config import Settings, get_settings
from ..db import engine
from ..errors import HectornbError, NotFound
from .io import read_2dfdr
from .vo import CALIB_LEVEL, parse_did, product_key, spectrum_records

log = logging.getLogger(__name__)

_COLUMNS = (
    "did",
    "product",
    "fibre",
    "job",
    "task",
    "owner",
    "aaoprgid",
    "calib_level",
    "obs_collection",
    "obs_id",
    "target_name",
    "s_ra",
    "s_dec",
    "s_fov",
    "s_resolution",
    "t_min",
    "t_max",
    "t_exptime",
    "em_min",
    "em_max",
    "em_res_power",
    "em_xel",
    "facility_name",
    "instrument_name",
    "access_estsize",
    "medium",
)


@dataclass(frozen=True)
class Located:
    """Where a spectrum the caller may see lives: its product, fibre and reduction."""

    did: str
    product: Path
    fibre: int
    job: str | None
    task: str
    record: dict


class SpectrumIndex:
    """The spectra of reduced products, as the caller may see them."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()

    @property
    def authority(self) -> str:
        return self.settings.vo_authority

    @contextmanager
    def _as(self, user: str | None, base_url: str = "/") -> Iterator[psycopg.Connection]:
        with engine.connect(self.settings) as conn:
            engine.name_caller(conn, user, base_url)
            yield conn

    def add_product(self, path: str | Path, task: str, owner: str, job: str | None = None) -> int:
        """Describe the product's spectra (replacing an earlier description of the same
        product); returns how many it holds."""
        key = product_key(path, self.settings.home / "reduce")
        records = spectrum_records(read_2dfdr(path), path, task, self.authority, key)
        rows = [tuple({**r, "job": job, "owner": owner}[c] for c in _COLUMNS) for r in records]
        insert = sql.SQL("INSERT INTO spectrum ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)),
        )
        with engine.connect(self.settings) as conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM spectrum WHERE product = %s OR did = ANY(%s)",
                (str(path), [r["did"] for r in records]),
            )
            cur.executemany(insert, rows)
        return len(rows)

    def add_written(self) -> tuple[int, list[str]]:
        """Describe every product the Reduce service has written that still exists (its
        spectra from before they were staged, or after a restore); returns (spectra,
        products that could not be read, each with why)."""
        with engine.connect(self.settings) as conn:
            rows = conn.execute(
                "SELECT s.output, s.task, j.owner, j.id::text AS job FROM reduce_step s "
                "JOIN reduce_job j ON j.id = s.job WHERE s.status = 'done' AND s.task = ANY(%s) "
                "ORDER BY s.finished",
                (list(CALIB_LEVEL),),
            ).fetchall()
        n, problems = 0, []
        for r in rows:
            if not Path(r["output"]).exists():
                continue
            try:
                n += self.add_product(r["output"], r["task"], r["owner"], r["job"])
            except (OSError, HectornbError, psycopg.Error) as exc:
                problems.append(f"{r['output']}: {exc}")
        return n, problems

    def locate(self, did: str, user: str | None) -> Located:
        """The spectrum ``did`` if the caller may see it; `NotFound` otherwise (a spectrum
        one may not see is not said to exist)."""
        parse_did(did, self.authority)
        with self._as(user) as conn:
            row = conn.execute(
                "SELECT s.did, s.product, s.fibre, s.job::text AS job, s.task, o.* "
                "FROM hectornb_pub.obscore o JOIN spectrum s ON s.did = o.obs_publisher_did "
                "WHERE o.obs_publisher_did = %s",
                (did,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no spectrum {did} that you may see")
        return Located(
            row["did"], Path(row["product"]), row["fibre"], row["job"], row["task"], dict(row)
        )

    def search(
        self,
        user: str | None,
        *,
        pos: tuple[float, float] | None = None,
        size: float | None = None,
        band: tuple[float | None, float | None] | None = None,
        time: tuple[float | None, float | None] | None = None,
        maxrec: int = 1000,
        base_url: str = "/",
    ) -> tuple[list[dict], bool]:
        """ObsCore rows the caller may see: within ``size`` degrees (a diameter) of
        ``pos`` (ICRS degrees), overlapping ``band`` (metres) and ``time`` (MJD); at most
        ``maxrec``, nearest first when a position is given. Returns (rows, overflow)."""
        where, params = [sql.SQL("true")], []
        order = sql.SQL("obs_publisher_did")
        if pos is not None:
            ra, dec = pos
            radius = (size if size is not None else 2.0 / 60) / 2.0
            distance = sql.SQL("hnb_adql.distance(s_ra, s_dec, %s, %s)")
            where += [sql.SQL("s_dec BETWEEN %s AND %s"), distance + sql.SQL(" <= %s")]
            params += [dec - radius, dec + radius, ra, dec, radius]
            order = distance
            params_order = [ra, dec]
        else:
            params_order = []
        for (lo, hi), (low_col, high_col) in (
            (band or (None, None), ("em_min", "em_max")),
            (time or (None, None), ("t_min", "t_max")),
        ):
            if hi is not None:
                where.append(sql.SQL("{} <= %s").format(sql.Identifier(low_col)))
                params.append(hi)
            if lo is not None:
                where.append(sql.SQL("{} >= %s").format(sql.Identifier(high_col)))
                params.append(lo)
        query = sql.SQL("SELECT * FROM hectornb_pub.obscore WHERE {} ORDER BY {} LIMIT %s").format(
            sql.SQL(" AND ").join(where), order
        )
        with self._as(user, base_url) as conn:
            rows = conn.execute(query, [*params, *params_order, maxrec + 1]).fetchall()
        return [dict(r) for r in rows[:maxrec]], len(rows) > maxrec
