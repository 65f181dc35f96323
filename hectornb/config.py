"""One settings object for the whole platform, read from ``HECTORNB_*`` environment variables.

Every process (the server, a Voilà kernel, the command line, a Dask worker) builds the same
`Settings` from the same environment, so they all find the same database and data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

_PREFIX = "HECTORNB_"

#: The environment variable through which ``hectornb serve`` gives its Voilà kernels the key
#: to their page-request socket (`hectornb.server.page_request`).
PAGE_REQUEST_KEY_VARIABLE = "HECTORNB_PAGE_REQUEST_KEY"
#: The environment variable through which a server tells the kernels it starts its URL
#: prefix, which differs under JupyterHub: widgets build links under it (the offline sky
#: survey, the Dask dashboard). Set by the server (`set_server_base_url`), never by hand.
SERVER_BASE_URL_VARIABLE = "HECTORNB_SERVER_BASE_URL"


def server_base_url() -> str:
    """The URL prefix of the server this process runs under (``/`` outside one)."""
    return os.environ.get(SERVER_BASE_URL_VARIABLE) or "/"


def set_server_base_url(base_url: str) -> None:
    """Tell this process, and the kernels it starts from now on, the server's URL prefix."""
    os.environ[SERVER_BASE_URL_VARIABLE] = base_url


def _default_home() -> Path:
    return Path.home() / ".hectornb"


def _setting(
    default,
    doc: str,
    *,
    env: str | None = None,
    shown: str | None = None,
    unset: str | None = None,
    minimum: float | None = None,
):
    """A setting, declared once: its ``default``; ``doc``, what it does in a line (the
    README's table and ``help(Settings)`` are made from it); ``env``, its variable's name
    after ``HECTORNB_`` when not the field's name in capitals; ``shown``, how the README
    writes the default; ``unset``, what an unset optional setting means; ``minimum``, a floor
    (a value below it is raised to it)."""
    meta = {"doc": doc, "env": env, "shown": shown, "unset": unset, "minimum": minimum}
    return field(default=default, metadata=meta)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Effective settings of the platform, each from its ``HECTORNB_*`` variable (an empty
    one counts as unset). The attributes are listed below, made from their declarations."""

    home: Path = _setting(
        None, "data directory: embedded database, demo files", shown="`~/.hectornb`"
    )
    database_url: str | None = _setting(
        None, "a PostgreSQL URL for a shared database", unset="embedded server"
    )
    targets_url: str | None = _setting(
        None, "`mongodb://host/db` keeps target lists in MongoDB", unset="the main database"
    )
    port: int = _setting(8866, "port of `hectornb serve`")
    pool_size: int = _setting(
        1,
        "preheated Voilà kernels per app (more: a quick reload never "
        "waits for a kernel; each takes ~300 MB)",
        minimum=0,
    )
    notebooks: Path | None = _setting(
        None,
        "a folder of one's own app notebooks for `hectornb serve` (only the operator chooses it)",
        unset="the package's",
    )
    catalogues: tuple[str, ...] = _setting(
        ("gaia", "openngc"),
        "finder-chart catalogues: `gaia`, `openngc`, `hipparcos` (offline, "
        "shipped), files with ra/dec columns, or TAP tables (`tap:SCHEMA.TABLE`, "
        "`tap:URL#SCHEMA.TABLE`)",
    )
    catalogue_mag_limit: float | None = _setting(
        None, "drop catalogue sources fainter than this (mag)", unset="none"
    )
    catalogue_radius_arcsec: float = _setting(
        60.0, "catalogue cut around each target (arcsec)", env="CATALOGUE_RADIUS"
    )
    cutouts: Path | None = _setting(
        None,
        "folder of `<target>.png/.jpg` sky images for the cards, each centred on its target",
        unset="none",
    )
    statement_timeout_ms: int = _setting(
        10_000, "limit on any one SQL statement of a user's action (503 beyond it, nothing stored)"
    )
    token_days: int = _setting(365, "days an `hnb_` API token works after it was made", minimum=1)
    imports_at_once: int = _setting(
        2,
        "target files the server reads at once (~1 GB of memory for a 64 MiB file); one more: 429",
        minimum=1,
    )
    import_timeout: float = _setting(
        600.0,
        "seconds the database may take to store one imported target list (bulk loads "
        "are exempt from the per-statement limit)",
    )
    database_wait: float = _setting(
        10.0,
        'seconds a request waits for a free database connection before a 503 "busy" '
        "(none while the database is down: 503 at once, and the embedded server is restarted)",
    )
    max_upload_bytes: int = _setting(
        64 * 1024 * 1024, "largest target file accepted", shown="64 MiB"
    )
    dask_scheduler: str | None = _setting(
        None,
        "Dask scheduler that runs reductions (`tcp://host:8786`); its workers must see "
        "the raw and output folders at the same paths",
        unset="a local cluster per run",
    )
    tdfdr_image: str = _setting(
        "2dfdr:latest", "container image of the `2dfdr-docker` engine", env="2DFDR_IMAGE"
    )
    step_timeout: float = _setting(
        1200.0,
        "seconds one 2dFdr command may run before it is killed (its step then fails, "
        "without retries)",
        minimum=1,
    )
    container_cpus: float = _setting(
        1.0, "CPUs one 2dFdr container may use (Docker's `--cpus`)", minimum=0.01
    )
    container_memory: str = _setting(
        "4g",
        "memory one 2dFdr container may use (Docker's `--memory`; a step beyond it is "
        "killed and fails as out of memory)",
    )
    container_disk: int = _setting(
        4 * 2**30,
        "bytes one 2dFdr command may write in its work folder (on the data disk) before it "
        "is killed and its step fails",
        shown="4 GiB",
        minimum=2**20,
    )
    containers_per_worker: int = _setting(
        1, "2dFdr containers one Dask worker process runs at once", minimum=1
    )
    container_user: str | None = _setting(
        None,
        "`uid:gid` the 2dFdr containers run as; it must read the raw frames",
        unset="the service's own, or 65534:65534 (nobody) when the service is root",
    )
    reduce_workers: int = _setting(2, "worker processes of the Reduce service's local Dask cluster")
    reduce_threads: int = _setting(
        1,
        "threads of each of those workers: the built-in engine keeps one busy; a thread "
        "of the `2dfdr-docker` engine only waits for its container",
        minimum=1,
    )
    runner: str = _setting(
        "embedded", "`external`: `hectornb reduce runner` services run the requests"
    )
    job_lease: float = _setting(
        60.0,
        "seconds before another runner takes over a silent runner's reduction requests "
        "and asynchronous TAP jobs",
    )
    smtp_host: str | None = _setting(
        None, "mail server for request notifications", unset="no e-mail"
    )
    smtp_port: int = _setting(25, "its port")
    smtp_user: str | None = _setting(None, "its user name", unset="none")
    smtp_password: str | None = _setting(None, "its password", unset="none")
    smtp_from: str = _setting("hectornb@localhost", "the notifications' sender")
    smtp_starttls: bool = _setting(False, "whether to speak STARTTLS to it")
    public_url: str = _setting(
        "http://localhost:8866", "the platform's address, for links in e-mails"
    )
    vo_authority: str = _setting(
        "hectornb.local",
        "the IVOA authority of the spectra's publisher DIDs (`ivo://AUTHORITY/spectra?…`); a "
        "data centre sets its registered one",
    )
    ssa_maxrec: int = _setting(1000, "SSA rows returned when a query gives no MAXREC", minimum=0)
    vo_requests_at_once: int = _setting(
        4,
        "SSA and DataLink requests (spectra, cutouts, files, PDFs drawn) served at once; one "
        "more: 503",
        minimum=1,
    )
    datalink_max_ids: int = _setting(100, "spectra one DataLink request may ask about", minimum=1)
    ssa_hard_maxrec: int = _setting(
        100_000, "the most SSA rows any query returns (a larger MAXREC is cut to it)", minimum=1
    )
    sky_survey: str = _setting(
        "auto",
        "HiPS behind the Aladin Lite views: `auto` is DSS2 colour when CDS answers, "
        "else a blank one served offline; `offline`, a CDS ID or a URL",
    )
    tap_maxrec: int = _setting(20_000, "TAP rows returned when a query gives no MAXREC")
    tap_hard_maxrec: int = _setting(2_000_000, "the most TAP rows a query may ask for")
    tap_sync_timeout: int = _setting(60, "seconds a synchronous TAP query may run")
    tap_async_timeout: int = _setting(3600, "seconds an asynchronous TAP job may run")
    tap_upload_limit: int = _setting(
        20 * 1024 * 1024, "bytes of the tables uploaded with one TAP query, as sent", shown="20 MiB"
    )
    tap_upload_unpacked_limit: int = _setting(
        100 * 1024 * 1024,
        "bytes of one uploaded table once gzip/bzip2/xz is undone",
        shown="100 MiB",
    )
    tap_upload_columns: int = _setting(500, "columns of one uploaded table")
    tap_upload_rows: int = _setting(1_000_000, "rows of one uploaded table")
    tap_upload_seconds: float = _setting(
        60.0, "seconds to fetch and read one upload (in a child process, killed beyond them)"
    )
    tap_upload_memory: int = _setting(
        1024**3, "bytes of memory reading one upload may take", shown="1 GiB"
    )
    tap_upload_hosts: tuple[str, ...] = _setting(
        (),
        "hosts and networks (`archive.example.org,10.2.0.0/16`) uploads by URL may come "
        "from (never loopback or private ones unless listed)",
        unset="(any public address)",
    )
    tap_sync_concurrency: int = _setting(
        4, "synchronous TAP queries run at once, on TAP's own threads", minimum=1
    )
    tap_sync_per_client: int = _setting(
        2, "synchronous TAP queries one user (or address) may have under way; more: 429", minimum=1
    )
    tap_sync_bytes: int = _setting(
        1024**3,
        "bytes of one synchronous TAP answer: the rows stop there, marked OVERFLOW "
        "(async jobs: no cut)",
        shown="1 GiB",
    )
    tap_max_running: int = _setting(
        2, "TAP jobs one user (or anonymous address) may have executing (more wait queued)"
    )
    tap_max_jobs: int = _setting(
        100,
        "TAP jobs one user (or anonymous address) may have pending, queued or executing; more: 429",
        minimum=1,
    )
    tap_anonymous: bool = _setting(
        True, "anonymous reads of the public TAP tables (never in a Hub user's own server)"
    )
    app_kernels_per_user: int = _setting(
        8,
        "open apps (Voilà kernels, ~300 MB each) one person may have in the data centre's "
        "service; their abandoned ones are stopped to make room, beyond that 429",
        minimum=1,
    )
    app_kernels: int = _setting(
        100,
        "open apps everyone together may have in the data centre's service; beyond that 503",
        minimum=1,
    )
    page_kernel_grace: int = _setting(
        45,
        "seconds an app's kernel is kept, idle, once its page is closed or reloaded; then "
        "it is stopped (open pages keep theirs)",
        minimum=10,
    )
    service_url: str | None = _setting(
        None,
        "in users' servers at a data centre: the hectornb service they are clients of "
        "(they then hold no secret)",
        unset="none",
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = (env.get(variable(f)) or "").strip()
            values[f.name] = _parse(f, raw) if raw else f.default
        values["home"] = Path(values["home"] or _default_home()).expanduser()
        for name in ("public_url", "service_url"):
            values[name] = values[name].rstrip("/") if values[name] else values[name]
        return cls(**values)

    def describe(self, environ: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
        """Rows of (variable, effective value, where it came from) for ``hectornb config``."""
        env = os.environ if environ is None else environ
        rows = []
        for f in fields(self):
            var, value = variable(f), getattr(self, f.name)
            if isinstance(value, tuple):
                shown = ",".join(value) or f.metadata["unset"] or "(none)"
            elif value is None:
                shown = f"({f.metadata['unset'] or 'none'})"
                if f.name == "database_url":
                    embedded = f"(embedded PostgreSQL under {self.home / 'postgres'})"
                    shown = (
                        f"(none: a client of the service at {self.service_url})"
                        if self.service_url
                        else embedded
                    )
            elif "password" in f.name:
                shown = "***"
            else:
                shown = _redact(str(value))
            rows.append((var, shown, _source(env, var)))
        return rows


def variable(f) -> str:
    """The environment variable of the setting ``f`` (a field of `Settings`)."""
    return _PREFIX + (f.metadata.get("env") or f.name.upper())


def _parse(f, raw: str):
    """``raw`` (an environment variable's text) as setting ``f``'s type."""
    kind = str(f.type).replace(" | None", "")
    if kind == "bool":
        if raw.lower() not in _TRUE + _FALSE:
            raise ValueError(f"{variable(f)} must be true or false (1/0), not {raw!r}")
        return raw.lower() in _TRUE
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    value = {"int": int, "float": float, "Path": Path, "str": str}[kind](raw)
    if f.metadata.get("minimum") is not None:
        value = max(f.metadata["minimum"], value)
    return value


def settings_table() -> str:
    """The README's table of settings, made from their declarations."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for f in fields(Settings):
        rows.append(f"| `{variable(f)}` | {_shown_default(f)} | {f.metadata['doc']} |")
    return "\n".join(rows)


def _shown_default(f) -> str:
    default = f.default
    if f.metadata["shown"]:
        return f.metadata["shown"]
    if default is None or default == ():
        return f.metadata["unset"]
    if isinstance(default, tuple):
        return f"`{','.join(default)}`"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, str):
        return f"`{default}`"
    return f"{default:,}" if isinstance(default, int) and default >= 100_000 else f"{default:g}"


def _numpydoc() -> str:
    lines = [Settings.__doc__.rstrip(), "", "    Attributes", "    ----------"]
    for f in fields(Settings):
        lines += [f"    {f.name} : {f.type}", f"        ``{variable(f)}``: {f.metadata['doc']}."]
    return "\n".join(lines) + "\n"


Settings.__doc__ = _numpydoc()


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
