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


def platform_label(settings: Settings) -> str:
    """Which platform a container belongs to: one per data folder, so that two platforms
    sharing a Docker engine (a laptop's and a test's) never remove each other's."""
    return hashlib.sha256(str(Path(settings.home).resolve()).encode()).hexdigest()[:16]


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
    """How a container ended: its exit code (None when killed at its time limit), its
    output (stdout and stderr, interleaved), whether the memory limit killed it, and its
    wall time in seconds from create to remove."""

    exit_code: int | None
    output: str
    out_of_memory: bool
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


def docker_client(timeout: float = 60):
    """A docker-py client of ``DOCKER_HOST`` (or the local socket)."""
    import docker

    return docker.from_env(timeout=timeout)


def create_arguments(sandbox: Sandbox, settings: Settings, timeout: float) -> dict:
    """Keyword arguments of docker-py's ``containers.create`` for ``sandbox``."""
    volumes = {str(sandbox.work): {"bind": WORK, "mode": "rw"}}
    for name, path in sandbox.inputs.items():
        volumes[str(Path(path).resolve())] = {"bind": f"{INPUTS}/{name}", "mode": "ro"}
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
        "volumes": volumes,
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


def run(sandbox: Sandbox, timeout: float, settings: Settings | None = None) -> Outcome:
    """Run ``sandbox`` in a new container and remove it; kill it after ``timeout`` s.

    Raises docker-py's ``DockerException`` when the engine cannot run it (no daemon, no
    such image).
    """
    settings = settings or get_settings()
    client = docker_client()
    with _worker_slots(settings):
        start = time.perf_counter()
        container = client.containers.create(**create_arguments(sandbox, settings, timeout))
        try:
            container.start()
            exit_code = _wait(container, timeout)
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
            state = client.api.inspect_container(container.id)["State"]
            oom = bool(state.get("OOMKilled"))
        finally:
            _remove(container)
        return Outcome(exit_code, output, oom, time.perf_counter() - start)


def _wait(container, timeout: float) -> int | None:
    """The container's exit code, or None after killing it at ``timeout`` s."""
    from requests.exceptions import ConnectionError as Disconnected
    from requests.exceptions import ReadTimeout

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            container.kill()
            return None
        try:
            return int(container.wait(timeout=max(1, int(left + 0.999)))["StatusCode"])
        except (ReadTimeout, Disconnected):
            continue  # the wait ran out: loop to the deadline check


def remove_survivors(
    settings: Settings, keep: Callable[[Mapping[str, str]], bool] = lambda labels: False
) -> list[dict[str, str]]:
    """Remove this platform's containers whose labels ``keep`` refuses, and any past its
    deadline; returns the labels of those removed (``runner``, ``request``, ``step``, …)
    with their ``name``. A container that outlived its runner (the server killed
    during a step) is found here by its labels."""
    client = docker_client()
    now = time.time()
    removed = []
    for container in client.containers.list(
        all=True, filters={"label": f"{LABEL}.platform={platform_label(settings)}"}
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
