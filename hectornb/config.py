"""One settings object for the whole platform, read from ``HECTORNB_*`` environment variables.

Every process (the server, a Voilà kernel, the command line, a Dask worker) builds the same
`Settings` from the same environment, so they all find the same database and data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

_PREFIX = "HECTORNB_"



#: The environment variable through which ``hectornb serve`` gives its Voilà kernels the key
#: to their page-request socket (`hectornb.server.page_request`).
PAGE_REQUEST_KEY_VARIABLE = "HECTORNB_PAGE_REQUEST_KEY"

def _default_home() -> Path:
    return Path.home() / ".hectornb"


@dataclass(frozen=True)
class Settings:
    """Effective settings of the platform.

    Attributes
    ----------
    home : Path
        Data directory (``HECTORNB_HOME``): the embedded database, caches, demo data.
    database_url : str or None
        ``HECTORNB_DATABASE_URL``: a PostgreSQL URL. ``None`` starts the embedded server under
        ``home/postgres`` on demand.
    targets_url : str or None
        ``HECTORNB_TARGETS_URL``: where target lists live. ``None`` means the main database;
        a ``mongodb://`` URL selects the MongoDB target store.
    port : int
        ``HECTORNB_PORT``: port of ``hectornb serve``.
    catalogue_radius_arcsec : float
        ``HECTORNB_CATALOGUE_RADIUS``: radius of the per-target catalogue cut, arcsec.
    token_days : int
        ``HECTORNB_TOKEN_DAYS``: days an ``hnb_`` API token works after it was made.
    imports_at_once : int
        ``HECTORNB_IMPORTS_AT_ONCE``: target files the server reads at once (a 64 MiB file
        takes about 1 GB of memory while it is read); one more is answered 429.
    import_timeout : float
        ``HECTORNB_IMPORT_TIMEOUT``: seconds the database may take to store one imported target
        list (a 64 MiB file of 1.8 million targets takes about 30 s); bulk work is exempt from
        the per-statement limit below.
    database_wait : float
        ``HECTORNB_DATABASE_WAIT``: seconds a request waits for a free database connection
        before it is answered 503 "busy" (while the database is down: none).
    statement_timeout_ms : int
        ``HECTORNB_STATEMENT_TIMEOUT_MS``: upper bound on any one SQL statement from a user action.
    max_upload_bytes : int
        ``HECTORNB_MAX_UPLOAD_BYTES``: the largest target file accepted.
    catalogues : tuple of str
        ``HECTORNB_CATALOGUES``: comma-separated catalogues for finder charts and
        suggestions: ``gaia``, ``openngc``, ``hipparcos`` (offline, shipped) or paths of
        FITS/VOTable/CSV/Parquet files with ra/dec columns.
    catalogue_mag_limit : float or None
        ``HECTORNB_CATALOGUE_MAG_LIMIT``: drop catalogue sources fainter than this, mag.
    cutouts : Path or None
        ``HECTORNB_CUTOUTS``: a folder of sky images named ``<target>.png``/``.jpg``, each
        centred on its target and spanning the card's field of view.
    dask_scheduler : str or None
        ``HECTORNB_DASK_SCHEDULER``: address of a Dask scheduler (``tcp://host:8786``) that
        runs reductions. ``None`` starts a local cluster of worker processes per run. The
        workers must see the raw and output directories at the same paths.
    tdfdr_image : str
        ``HECTORNB_2DFDR_IMAGE``: the container image the ``2dfdr-docker`` engine runs.
    public_url : str
        ``HECTORNB_PUBLIC_URL``: the address people reach the platform at (links in e-mails).
    smtp_host, smtp_port, smtp_user, smtp_password, smtp_from, smtp_starttls
        ``HECTORNB_SMTP_*``: the mail server for the Reduce service's notifications; no host,
        no e-mail.
    reduce_workers : int
        ``HECTORNB_REDUCE_WORKERS``: worker processes of the local Dask cluster the Reduce
        service starts when no ``HECTORNB_DASK_SCHEDULER`` is given.
    runner : str
        ``HECTORNB_RUNNER``: ``embedded`` (the server runs reduction jobs itself) or
        ``external`` (a ``hectornb reduce runner`` service does, as at a data centre).
    job_lease : float
        ``HECTORNB_JOB_LEASE``: seconds after which a running job whose runner stopped
        beating is taken over by another runner.
    sky_survey : str
        ``HECTORNB_SKY_SURVEY``: the HiPS behind the Aladin Lite views (a CDS ID such as
        ``P/DSS2/color`` or a URL); ``auto`` uses DSS2 when CDS answers and a blank
        survey served by the platform when it does not; ``offline`` always the blank one.
    tap_maxrec, tap_hard_maxrec : int
        ``HECTORNB_TAP_MAXREC`` / ``HECTORNB_TAP_HARD_MAXREC``: rows a TAP query returns when
        it gives no MAXREC, and the most it may ask for.
    tap_sync_timeout, tap_async_timeout : int
        ``HECTORNB_TAP_SYNC_TIMEOUT`` / ``HECTORNB_TAP_ASYNC_TIMEOUT``: seconds a synchronous
        query, and an asynchronous job, may run before the database stops it.
    tap_upload_limit : int
        ``HECTORNB_TAP_UPLOAD_LIMIT``: bytes of all the tables uploaded with one TAP query,
        as sent (compressed or not).
    tap_upload_unpacked_limit : int
        ``HECTORNB_TAP_UPLOAD_UNPACKED_LIMIT``: bytes of one uploaded table once its gzip,
        bzip2 or xz compression is undone.
    tap_upload_columns, tap_upload_rows : int
        ``HECTORNB_TAP_UPLOAD_COLUMNS`` / ``HECTORNB_TAP_UPLOAD_ROWS``: the most columns and
        rows an uploaded table may have.
    tap_upload_seconds : float
        ``HECTORNB_TAP_UPLOAD_SECONDS``: wall-clock time to fetch and read one uploaded table
        (in a child process, which is killed after it), s.
    tap_upload_memory : int
        ``HECTORNB_TAP_UPLOAD_MEMORY``: bytes of memory reading one uploaded table may take.
    tap_upload_hosts : tuple of str
        ``HECTORNB_TAP_UPLOAD_HOSTS``: comma-separated host names and networks
        (``archive.example.org,10.2.0.0/16``) that uploads by URL may be fetched from;
        empty: any public address, never loopback, private or link-local ones.
    tap_sync_concurrency : int
        ``HECTORNB_TAP_SYNC_CONCURRENCY``: synchronous TAP queries (uploads included) run at
        once; more wait their turn, on threads of their own, so TAP never starves the rest of
        the platform.
    tap_sync_bytes : int
        ``HECTORNB_TAP_SYNC_BYTES``: bytes of one synchronous answer; the rows stop there and
        the answer says OVERFLOW, as when MAXREC cuts it (asynchronous jobs have no such cut).
    tap_sync_per_client : int
        ``HECTORNB_TAP_SYNC_PER_CLIENT``: synchronous TAP queries one client (a user, or an
        address when anonymous) may have under way; one more is answered 429.
    tap_max_running : int
        ``HECTORNB_TAP_MAX_RUNNING``: asynchronous TAP jobs one user may have executing.
    tap_max_jobs : int
        ``HECTORNB_TAP_MAX_JOBS``: asynchronous TAP jobs one user (or anonymous address) may
        have pending, queued or executing; one more is answered 429.
    tap_anonymous : bool
        ``HECTORNB_TAP_ANONYMOUS``: whether callers who are not signed in may read the public
        TAP tables (on, as on the survey's public TAP). Never in a Hub user's own server.
    app_kernels_per_user, app_kernels : int
        ``HECTORNB_APP_KERNELS_PER_USER`` / ``HECTORNB_APP_KERNELS``: app kernels (open apps,
        about 300 MB each) one person, and everyone together, may have in the data centre's
        service; a person's abandoned ones are stopped to make room, beyond that 429 / 503.
    page_kernel_grace : int
        ``HECTORNB_PAGE_KERNEL_GRACE``: seconds an app's kernel is kept once its page has
        gone (closed, reloaded, navigated away) and it is idle; then it is stopped (45).
    service_url : str or None
        ``HECTORNB_SERVICE_URL``: the data centre's hectornb service (set by the deployment in
        users' servers). With it, the package in a user's server is a client of that service
        and holds no secret; without it, the platform runs in the user's own server.
    """

    home: Path
    database_url: str | None = None
    targets_url: str | None = None
    port: int = 8866
    catalogue_radius_arcsec: float = 60.0
    statement_timeout_ms: int = 10_000
    database_wait: float = 10.0
    import_timeout: float = 600.0
    imports_at_once: int = 2
    token_days: int = 365
    max_upload_bytes: int = 64 * 1024 * 1024
    catalogues: tuple[str, ...] = ("gaia", "openngc")
    catalogue_mag_limit: float | None = None
    cutouts: Path | None = None
    dask_scheduler: str | None = None
    tdfdr_image: str = "2dfdr:latest"
    public_url: str = "http://localhost:8866"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "hectornb@localhost"
    smtp_starttls: bool = False
    reduce_workers: int = 2
    runner: str = "embedded"
    job_lease: float = 60.0
    sky_survey: str = "auto"
    tap_maxrec: int = 20_000
    tap_hard_maxrec: int = 2_000_000
    tap_sync_timeout: int = 60
    tap_async_timeout: int = 3600
    tap_upload_limit: int = 20 * 1024 * 1024
    tap_upload_unpacked_limit: int = 100 * 1024 * 1024
    tap_upload_columns: int = 500
    tap_upload_rows: int = 1_000_000
    tap_upload_seconds: float = 60.0
    tap_upload_memory: int = 1024 * 1024 * 1024
    tap_upload_hosts: tuple[str, ...] = ()
    tap_sync_concurrency: int = 4
    tap_sync_per_client: int = 2
    tap_sync_bytes: int = 1024**3
    tap_max_running: int = 2
    tap_max_jobs: int = 100
    tap_anonymous: bool = True
    app_kernels_per_user: int = 8
    app_kernels: int = 100
    page_kernel_grace: int = 45
    service_url: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get(_PREFIX + "HOME") or _default_home()).expanduser()
        return cls(
            home=home,
            database_url=env.get(_PREFIX + "DATABASE_URL") or None,
            targets_url=env.get(_PREFIX + "TARGETS_URL") or None,
            port=int(env.get(_PREFIX + "PORT", 8866)),
            catalogue_radius_arcsec=float(env.get(_PREFIX + "CATALOGUE_RADIUS", 60.0)),
            statement_timeout_ms=int(env.get(_PREFIX + "STATEMENT_TIMEOUT_MS", 10_000)),
            database_wait=float(env.get(_PREFIX + "DATABASE_WAIT") or 10.0),
            import_timeout=float(env.get(_PREFIX + "IMPORT_TIMEOUT") or 600.0),
            imports_at_once=max(1, int(env.get(_PREFIX + "IMPORTS_AT_ONCE") or 2)),
            token_days=max(1, int(env.get(_PREFIX + "TOKEN_DAYS") or 365)),
            max_upload_bytes=int(env.get(_PREFIX + "MAX_UPLOAD_BYTES", 64 * 1024 * 1024)),
            catalogues=tuple(
                c.strip()
                for c in env.get(_PREFIX + "CATALOGUES", "gaia,openngc").split(",")
                if c.strip()
            ),
            catalogue_mag_limit=float(env[_PREFIX + "CATALOGUE_MAG_LIMIT"])
            if env.get(_PREFIX + "CATALOGUE_MAG_LIMIT")
            else None,
            cutouts=Path(env[_PREFIX + "CUTOUTS"]) if env.get(_PREFIX + "CUTOUTS") else None,
            dask_scheduler=env.get(_PREFIX + "DASK_SCHEDULER") or None,
            tdfdr_image=env.get(_PREFIX + "2DFDR_IMAGE") or "2dfdr:latest",
            public_url=(env.get(_PREFIX + "PUBLIC_URL") or "http://localhost:8866").rstrip("/"),
            smtp_host=env.get(_PREFIX + "SMTP_HOST") or None,
            smtp_port=int(env.get(_PREFIX + "SMTP_PORT") or 25),
            smtp_user=env.get(_PREFIX + "SMTP_USER") or None,
            smtp_password=env.get(_PREFIX + "SMTP_PASSWORD") or None,
            smtp_from=env.get(_PREFIX + "SMTP_FROM") or "hectornb@localhost",
            smtp_starttls=(env.get(_PREFIX + "SMTP_STARTTLS") or "0").lower() in ("1", "true"),
            reduce_workers=int(env.get(_PREFIX + "REDUCE_WORKERS") or 2),
            runner=env.get(_PREFIX + "RUNNER") or "embedded",
            job_lease=float(env.get(_PREFIX + "JOB_LEASE") or 60.0),
            sky_survey=env.get(_PREFIX + "SKY_SURVEY") or "auto",
            tap_maxrec=int(env.get(_PREFIX + "TAP_MAXREC") or 20_000),
            tap_hard_maxrec=int(env.get(_PREFIX + "TAP_HARD_MAXREC") or 2_000_000),
            tap_sync_timeout=int(env.get(_PREFIX + "TAP_SYNC_TIMEOUT") or 60),
            tap_async_timeout=int(env.get(_PREFIX + "TAP_ASYNC_TIMEOUT") or 3600),
            tap_upload_limit=int(env.get(_PREFIX + "TAP_UPLOAD_LIMIT") or 20 * 1024 * 1024),
            tap_upload_unpacked_limit=int(env.get(_PREFIX + "TAP_UPLOAD_UNPACKED_LIMIT")
                                          or 100 * 1024 * 1024),
            tap_upload_columns=int(env.get(_PREFIX + "TAP_UPLOAD_COLUMNS") or 500),
            tap_upload_rows=int(env.get(_PREFIX + "TAP_UPLOAD_ROWS") or 1_000_000),
            tap_upload_seconds=float(env.get(_PREFIX + "TAP_UPLOAD_SECONDS") or 60.0),
            tap_upload_memory=int(env.get(_PREFIX + "TAP_UPLOAD_MEMORY") or 1024 ** 3),
            tap_upload_hosts=tuple(h.strip() for h in
                                   (env.get(_PREFIX + "TAP_UPLOAD_HOSTS") or "").split(",")
                                   if h.strip()),
            tap_sync_concurrency=max(1, int(env.get(_PREFIX + "TAP_SYNC_CONCURRENCY") or 4)),
            tap_sync_per_client=max(1, int(env.get(_PREFIX + "TAP_SYNC_PER_CLIENT") or 2)),
            tap_sync_bytes=int(env.get(_PREFIX + "TAP_SYNC_BYTES") or 1024**3),
            tap_max_running=int(env.get(_PREFIX + "TAP_MAX_RUNNING") or 2),
            tap_max_jobs=max(1, int(env.get(_PREFIX + "TAP_MAX_JOBS") or 100)),
            tap_anonymous=(env.get(_PREFIX + "TAP_ANONYMOUS") or "1").lower()
            not in ("0", "false", "no", "off"),
            app_kernels_per_user=max(1, int(env.get(_PREFIX + "APP_KERNELS_PER_USER") or 8)),
            app_kernels=max(1, int(env.get(_PREFIX + "APP_KERNELS") or 100)),
            page_kernel_grace=max(10, int(env.get(_PREFIX + "PAGE_KERNEL_GRACE") or 45)),
            service_url=(env.get(_PREFIX + "SERVICE_URL") or "").rstrip("/") or None,
        )

    def describe(self, environ: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
        """Rows of (variable, effective value, where it came from) for ``hectornb config``."""
        env = os.environ if environ is None else environ
        rows = []
        for f in fields(self):
            var = _PREFIX + {"catalogue_radius_arcsec": "CATALOGUE_RADIUS",
                             "tdfdr_image": "2DFDR_IMAGE"}.get(f.name, f.name.upper())  # fmt: skip
            if isinstance(getattr(self, f.name), tuple):
                shown = ",".join(getattr(self, f.name)) or {
                    "tap_upload_hosts": "(any public address)"}.get(f.name, "(none)")
                rows.append((var, shown, _source(env, var)))
                continue
            value = getattr(self, f.name)
            if value is None:
                embedded = f"(embedded PostgreSQL under {self.home / 'postgres'})"
                shown = {
                    "database_url": f"(none: a client of the service at {self.service_url})"
                    if self.service_url else embedded,
                    "targets_url": "(the main database)",
                    "dask_scheduler": "(a local cluster per run)",
                    "service_url": "(none: the platform runs in this server)",
                }.get(f.name, "(none)")
            elif "password" in f.name:
                shown = "***"
            else:
                shown = _redact(str(value))
            rows.append((var, shown, _source(env, var)))
        return rows


def _source(env, var: str) -> str:
    return "environment" if env.get(var) else "default"


def _redact(value: str) -> str:
    """Hide a password in a URL so ``hectornb config`` can be pasted into an issue."""
    if "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return value


def get_settings() -> Settings:
    """Settings of this process (read afresh, so tests can change the environment)."""
    return Settings.from_env()
