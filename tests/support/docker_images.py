"""Docker images for testing the ``2dfdr-docker`` engine, made with no registry.

``base_image`` imports a small root file system made from this machine: busybox for a
shell, the running Python interpreter with its standard library, and the few packages the
2dFdr stand-in needs (numpy, astropy and theirs), with every shared library they load.
``standin_image`` builds the shipped ``docker/2dfdr/Dockerfile`` FROM that base with a
release tarball of the stand-in (``tdfdr_release/2dfdr``) saying a given version. Both
reuse an image already built from the same contents.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib
import importlib.metadata
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from docker import DockerClient

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "2dfdr" / "Dockerfile"
RELEASE = Path(__file__).resolve().parent / "tdfdr_release" / "2dfdr"
BUSYBOX = "/bin/busybox"
# what the stand-in imports, and what those import
PACKAGES = ("numpy", "astropy", "erfa", "yaml", "packaging", "astropy_iers_data")
# parts of the standard library nothing here imports (with config-*, the static library
# for embedding): most of its size
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages"}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# change to make every image built before it stale
FORMAT = "1"
CONTENT_LABEL = "org.hectornb.content"


def docker_client() -> DockerClient:
    """A docker-py client of the daemon ``DOCKER_HOST`` names (or the default socket)."""
    # one import: with the repository's docker/ folder, ruff's isort takes `docker` for a
    # first-party package and `docker.errors` for a third-party one
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "the default socket")
        raise RuntimeError(f"no Docker daemon answers at {where}: {exc}") from exc
    return client


class _Rootfs:
    """Files, symbolic links and directories of an image, by their path in it."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}  # image path -> host path
        self.links: dict[str, str] = {}  # image path -> link target
        self.texts: dict[str, bytes] = {}  # image path -> contents

    def host_path(self, path: str) -> None:
        """``path`` at the same place, the symbolic links on the way kept as links (the
        loader and libraries are found by the paths the host's binaries name)."""
        parts = Path(path).parts
        here = Path("/")
        for i, part in enumerate(parts[1:], start=2):
            here = here / part
            if here.is_symlink():
                target = os.readlink(here)
                self.links[str(here)] = target
                resolved = os.path.normpath(here.parent / target)
                self.host_path(str(Path(resolved, *parts[i:])))
                return
        self.files[path] = path

    def tree(self, host: Path, at: str, skip: Callable[[Path], bool]) -> None:
        """The folder ``host`` at ``at``, leaving out the folders ``skip`` says."""
        for folder, dirs, files in os.walk(host):
            dirs[:] = [d for d in dirs if not skip(Path(folder, d))]
            for name in dirs + files:
                source = Path(folder, name)
                target = f"{at}/{source.relative_to(host)}"
                if source.is_symlink():
                    self.links[target] = os.readlink(source)
                elif name in files:
                    self.files[target] = str(source)

    def digest(self) -> str:
        """A short hash of what goes in: paths, sizes and times, link targets, texts."""
        h = hashlib.sha256(FORMAT.encode())
        for at, host in sorted(self.files.items()):
            st = os.stat(host)
            h.update(f"{at}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
        for at, target in sorted(self.links.items()):
            h.update(f"{at}\0->{target}\n".encode())
        for at, text in sorted(self.texts.items()):
            h.update(at.encode() + b"\0" + text)
        return h.hexdigest()[:12]

    def write(self, out: BinaryIO) -> None:
        """An uncompressed tar of the tree, folders first, all owned by root."""
        entries = [*self.files, *self.links, *self.texts]
        folders = {"/tmp"}
        for path in entries:
            folders.update(str(p) for p in Path(path).parents if str(p) != "/")
        with tarfile.open(fileobj=out, mode="w") as tar:
            for folder in sorted(folders - set(self.links)):
                info = tarfile.TarInfo(folder.lstrip("/"))
                info.type = tarfile.DIRTYPE
                # /root is private on the host; a non-root uid must reach the interpreter
                info.mode = 0o1777 if folder == "/tmp" else 0o755
                tar.addfile(info)
            for at, target in sorted(self.links.items()):
                info = tarfile.TarInfo(at.lstrip("/"))
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            for at, host in sorted(self.files.items()):
                info = tar.gettarinfo(host, arcname=at.lstrip("/"))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode |= 0o444 | (0o111 if info.mode & 0o100 else 0)
                if not info.isfile():  # a hard link to a file already written
                    tar.addfile(info)
                    continue
                with open(host, "rb") as f:
                    tar.addfile(info, f)
            for at, text in sorted(self.texts.items()):
                info = tarfile.TarInfo(at.lstrip("/"))
                info.size, info.mode = len(text), 0o644
                tar.addfile(info, io.BytesIO(text))


def _site_packages(fs: _Rootfs, at: str) -> list[str]:
    """The packages (with their ``.dist-info`` and bundled libraries) put at ``at``;
    returns the host folders they came from."""
    tops = importlib.metadata.packages_distributions()
    copied = []
    for name in PACKAGES:
        site = Path(importlib.import_module(name).__file__).resolve().parent.parent
        for dist_name in tops[name]:
            dist = importlib.metadata.distribution(dist_name)
            for top in sorted({f.parts[0] for f in dist.files or ()} - {".."}):
                source = site / top
                if source.is_dir():
                    # the packages' own test suites, not their `tests` packages (astropy
                    # imports astropy.tests at start)
                    fs.tree(source, f"{at}/{top}", lambda p, s=source: _nested_tests(p, s))
                    copied.append(str(source))
                elif source.exists():
                    fs.files[f"{at}/{top}"] = str(source)
    return copied


def _nested_tests(path: Path, package: Path) -> bool:
    return path.name == "tests" and path.parent != package


def _needed_libraries(binaries: list[str]) -> set[str]:
    """Every shared library ``binaries`` load, as ldd resolves them, and the loader."""
    out = subprocess.run(["ldd", *binaries], capture_output=True, text=True, check=False).stdout
    found = set()
    for line in out.splitlines():
        m = re.match(r"\s+(?:\S+ => )?(/\S+) \(0x", line)
        if m:
            found.add(m.group(1))
    return found


@functools.cache  # a second call in one session need not look at 5000 files again
def _base_rootfs() -> _Rootfs:
    fs = _Rootfs()
    python = os.path.realpath(sys.executable)
    stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["stdlib"]).resolve()
    fs.host_path(python)
    fs.tree(
        stdlib,
        str(stdlib),
        lambda p: p.parent == stdlib and (p.name in STDLIB_SKIP or p.name.startswith("config-")),
    )
    # __pycache__ folders kept (59 MB of 221): the container's user cannot write them, and
    # without them each container compiles numpy and astropy again (1.0 s, not 0.35 s)
    # where the interpreter looks for packages of its own (the venv is not in the image)
    copied = _site_packages(fs, f"{stdlib}/site-packages")
    # tkinter is left out, so its extension (and the X11 and Tk it loads) need not be in
    fs.files = {at: h for at, h in fs.files.items() if "/_tkinter." not in at}
    binaries = [python] + [h for h in fs.files.values() if re.search(r"\.so(\.|$)", h)]
    for lib in _needed_libraries(binaries):
        # numpy's and others' bundled libraries are in the packages already
        if not any(lib.startswith(folder + "/") for folder in copied):
            fs.host_path(lib)
    fs.files["/bin/busybox"] = os.path.realpath(BUSYBOX)
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    for applet in set(applets.stdout.split()) - {"busybox"}:
        fs.links[f"/bin/{applet}"] = "busybox"
    fs.links["/usr/bin/env"] = "/bin/busybox"  # for the `#!/usr/bin/env python3` line
    fs.links["/usr/bin/python3"] = python
    fs.texts["/etc/passwd"] = (
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    fs.texts["/etc/group"] = b"root:x:0:\nnogroup:x:65534:\n"
    return fs


def base_image(client: DockerClient) -> str:
    """The tests' base image (busybox, this Python, numpy and astropy), imported from a
    tar of this machine's files; tagged ``hectornb-test-base:<hash of its contents>``."""
    from docker.errors import ImageNotFound

    fs = _base_rootfs()
    tag = f"hectornb-test-base:{fs.digest()}"
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass
    with tempfile.TemporaryFile() as tar:
        fs.write(tar)
        tar.seek(0)
        repository, version = tag.split(":")
        client.api.import_image(
            src=tar,
            repository=repository,
            tag=version,
            changes=[f"ENV PATH={PATH}", 'CMD ["/bin/sh"]'],
        )
    client.images.get(tag)  # the import reports failures in its output only
    return tag


def release_tarball(version: str, path: Path) -> Path:
    """The stand-in release as a 2dFdr release tarball (``2dfdr/`` at its top) whose
    VERSION file says ``version``."""

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    # gzip's own time stamp left out: the same release makes the same bytes
    with gzip.GzipFile(path, "wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for source in sorted(RELEASE.rglob("*")):
            if source.name == "VERSION" or "__pycache__" in source.parts:
                continue
            tar.add(source, f"2dfdr/{source.relative_to(RELEASE)}", False, filter=owned_by_root)
        info = owned_by_root(tarfile.TarInfo("2dfdr/VERSION"))
        text = f"{version}\n".encode()
        info.size, info.mode = len(text), 0o644
        tar.addfile(info, io.BytesIO(text))
    return path


def _release_digest(version: str, base: str) -> str:
    h = hashlib.sha256(f"{FORMAT}\0{version}\0{base}\0".encode())
    h.update(DOCKERFILE.read_bytes())
    for source in sorted(RELEASE.rglob("*")):
        if source.is_file() and source.name != "VERSION" and "__pycache__" not in source.parts:
            h.update(str(source.relative_to(RELEASE)).encode() + b"\0" + source.read_bytes())
    return h.hexdigest()[:12]


def standin_image(client: DockerClient, version: str, tag: str | None = None) -> str:
    """``docker/2dfdr/Dockerfile`` built FROM `base_image` with the stand-in release
    saying ``version``; tagged ``tag`` (default ``hectornb-2dfdr-standin:<version>``).
    An image of that tag built from the same contents is reused."""
    from docker.errors import ImageNotFound

    base = base_image(client)
    tag = tag or f"hectornb-2dfdr-standin:{version}"
    digest = _release_digest(version, base)
    try:
        if client.images.get(tag).labels.get(CONTENT_LABEL) == digest:
            return tag
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as context:
        (Path(context) / "Dockerfile").write_bytes(DOCKERFILE.read_bytes())
        release = release_tarball(version, Path(context) / f"2dfdr-{version}.tar.gz")
        client.images.build(
            path=context,
            tag=tag,
            buildargs={
                "BASE": base,
                "TDFDR_RELEASE": release.name,
                "TDFDR_VERSION": version,
            },
            labels={CONTENT_LABEL: digest},
            network_mode="none",
            rm=True,
            pull=False,
        )
    return tag


if __name__ == "__main__":
    # to try the 2dfdr-docker engine with no 2dFdr release: the stand-in in an image
    # tagged as the engine looks for it (argument 1, default 2dfdr:standin)
    print(standin_image(docker_client(), "standin", (sys.argv[1:] or ["2dfdr:standin"])[0]))
