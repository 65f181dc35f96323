"""One command in a throw-away container, through docker-py: the ``2dfdr-docker`` sandbox.

Each command gets a fresh container with the least it needs: its private work folder
read-write at ``/work``, each input file read-only at ``/inputs/<name>`` (nothing else of the
raw or reduced folders), no network, no capabilities, a read-only root with a small ``/tmp``,
CPU, memory and process limits, and a non-root user. It is killed at its time limit and
removed when it ends. Every container carries labels naming the platform (its data folder),
the runner, the request, the step and the attempt, so that containers outliving their
runner (a server killed mid-step) are found and removed when a runner starts
(`remove_survivors`). A worker process runs at most ``HECTORNB_CONTAINERS_PER_WORKER``
containers at once, however many threads it has.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings, get_settings

LABEL = "org.hectornb"
WORK = "/work"
INPUTS = "/inputs"
_GRACE_S = 60  # after its deadline a container is anybody's to remove
LOG_BYTES = "1m"  # of a command's output kept for the request's log (the end of it)
_LOST_S = 60  # how long a command waits for an engine that stopped answering


def platform_label(settings: Settings, database: str = "") -> str:
    """Which platform a container belongs to: its data folder and, when the caller knows
    it, its database (`ReductionStore.database_identity`), so that platforms sharing a
    Docker engine (a laptop's and a test's, or two hosts' with the same folder) never
    remove each other's containers."""
    where = f"{Path(settings.home).resolve()}\0{database}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def container_user(settings: Settings) -> str:
    """``uid:gid`` of the containers: the setting, else the service's own, except root."""
    if settings.container_user:
        return settings.container_user
    uid = os.getuid()
    return "65534:65534" if uid == 0 else f"{uid}:{os.getgid()}"


def give_to_container_user(settings: Settings, *folders: Path) -> None:
    """Let the containers' user write in ``folders``: a service running as root runs its
    containers as another user (the service, not root, reads what they write)."""
    if os.getuid() != 0:
        return  # the containers run as the service itself (or as a user set by hand)
    uid, gid = (int(n) for n in container_user(settings).split(":"))
    for folder in folders:
        os.chown(folder, uid, gid)


@dataclass(frozen=True)
class Sandbox:
    """What one command needs: ``work`` (a host folder, mounted read-write) and ``inputs``
    (file name → host path, each mounted read-only)."""

    image: str
    argv: tuple[str, ...]
    work: Path
    inputs: Mapping[str, str]
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How a container ended: its exit code (None when killed), its output (stdout and
    stderr, interleaved), why it was killed (``timeout``, ``memory``, ``disk``, or "")
    and its wall time in seconds from create to remove."""

    exit_code: int | None
    output: str
    killed: str
    seconds: float


def docker_client(timeout: float = 60):
    """A docker-py client of ``DOCKER_HOST`` (or the local socket)."""
    import docker

    return docker.from_env(timeout=timeout)


def create_arguments(sandbox: Sandbox, settings: Settings, timeout: float) -> dict:
    """Keyword arguments of docker-py's ``containers.create`` for ``sandbox``."""
    from docker.types import Mount

    # mounts, not volumes: a missing source is an error, not a folder the daemon makes
    mounts = [Mount(WORK, str(sandbox.work), type="bind")]
    for name, path in sandbox.inputs.items():
        source = str(Path(path).resolve())
        mounts.append(Mount(f"{INPUTS}/{name}", source, type="bind", read_only=True))
    memory = settings.container_memory
    labels = {
        f"{LABEL}.platform": platform_label(settings),
        f"{LABEL}.deadline": str(int(time.time() + timeout + _GRACE_S)),
        **{f"{LABEL}.{k}": str(v) for k, v in sandbox.labels.items()},
    }
    return {
        "image": sandbox.image,
        "command": list(sandbox.argv),
        "working_dir": WORK,
        "environment": {"HOME": "/tmp", **sandbox.environment},
        "mounts": mounts,
        "user": container_user(settings),
        "network_disabled": True,
        "nano_cpus": int(settings.container_cpus * 1e9),
        "mem_limit": memory,
        "memswap_limit": memory,  # no swap: over the limit is killed, not slowed to a crawl
        "pids_limit": 256,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=256m,mode=1777"},
        # the daemon keeps the last of what a command prints, not gigabytes of it
        "log_config": {"type": "json-file", "config": {"max-size": LOG_BYTES, "max-file": "1"}},
        "labels": labels,
    }


_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _worker_slots(settings: Settings) -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.containers_per_worker)
        return _slots


class NotWanted(Exception):
    """The command's step was cancelled while it waited for a container slot."""


def run(
    sandbox: Sandbox,
    timeout: float,
    settings: Settings | None = None,
    wanted: Callable[[], bool] = lambda: True,
) -> Outcome:
    """Run ``sandbox`` in a new container and remove it; kill it after ``timeout`` s, or
    when its work folder holds more than ``HECTORNB_CONTAINER_DISK``.

    Raises `NotWanted` when ``wanted()`` says no once a container slot is free, and
    docker-py's ``DockerException`` when the engine cannot run it (no daemon, no image).
    """
    settings = settings or get_settings()
    client = docker_client()
    with _worker_slots(settings):
        if not wanted():
            raise NotWanted
        start = time.perf_counter()
        container = client.containers.create(**create_arguments(sandbox, settings, timeout))
        try:
            container.start()
            exit_code, killed = _wait(container, timeout, sandbox.work, settings.container_disk)
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
            state = client.api.inspect_container(container.id)["State"]
        finally:
            _remove(container)
        if state.get("OOMKilled"):
            killed = "memory"
        return Outcome(exit_code, output, killed, time.perf_counter() - start)


def _wait(container, timeout: float, work: Path, disk: int) -> tuple[int | None, str]:
    """The container's exit code and why it was killed: ``timeout`` after ``timeout`` s,
    ``disk`` when ``work`` holds more than ``disk`` bytes ("" when it ended by itself)."""
    from requests.exceptions import ConnectionError as Disconnected
    from requests.exceptions import ReadTimeout

    deadline = time.monotonic() + timeout
    lost = 0.0  # seconds the engine has not answered
    while True:
        if time.monotonic() >= deadline:
            return _kill(container), "timeout"
        if _bytes_in(work) > disk:
            return _kill(container), "disk"
        try:
            return int(container.wait(timeout=1)["StatusCode"]), ""
        except ReadTimeout:
            lost = 0.0  # it answered: the command is still running
        except Disconnected:
            # the engine restarting: its containers run on; wait for it, within reason
            lost += 1.0
            if lost > _LOST_S:
                raise
            time.sleep(1)


def _kill(container) -> int | None:
    """Kill ``container``; None, or its exit code if it had just ended by itself."""
    from docker.errors import APIError

    try:
        container.kill()
        return None
    except APIError as exc:
        if exc.status_code != 409:  # 409: it is not running any more
            raise
    return int(container.wait(timeout=10)["StatusCode"])


def _bytes_in(folder: Path) -> int:
    """Bytes the files under ``folder`` take on disk (links not followed)."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_blocks * 512
    return total


def remove_survivors(
    settings: Settings,
    keep: Callable[[Mapping[str, str]], bool] = lambda labels: False,
    platform: str = "",
) -> list[dict[str, str]]:
    """Remove this platform's containers whose labels ``keep`` refuses, and any past its
    deadline; returns the labels of those removed (``runner``, ``request``, ``step``, …)
    with their ``name``. A container that outlived its runner (the server killed
    during a step) is found here by its labels. ``platform`` is `platform_label`'s."""
    client = docker_client()
    now = time.time()
    removed = []
    platform = platform or platform_label(settings)
    for container in client.containers.list(
        all=True, filters={"label": f"{LABEL}.platform={platform}"}, ignore_removed=True
    ):
        labels = {
            k.removeprefix(f"{LABEL}."): v
            for k, v in container.labels.items()
            if k.startswith(LABEL)
        }
        overdue = float(labels.get("deadline") or 0) < now
        if overdue or not keep(labels):
            _remove(container)
            removed.append({**labels, "name": container.name})
    return removed


def _remove(container) -> None:
    from docker.errors import NotFound

    # removed meanwhile: by its own run, or by a survivors' sweep
    with contextlib.suppress(NotFound):
        container.remove(force=True)
