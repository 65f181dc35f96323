"""What the Docker engine holds, asked when a request is made: the tags of the 2dFdr
image's repository (the engines the Reduce form offers) and whether an image is there.

A request must not wait on a Docker engine that is slow, hung or misconfigured, nor may
many requests pile up on one: each question is asked in a thread of its own, at most
`CONCURRENT` at once, and waited for at most `DEADLINE_S` in all (docker-py's own timeout
bounds each socket read, not the whole exchange). Every caller asking the same question
within `KEEP_S` shares one answer. A thread stuck on an engine that never finishes its
reply is a daemon thread: it holds its slot, never the process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, TimeoutError

DEADLINE_S = 5.0  # a question's whole answer, however many round trips it takes
KEEP_S = 5.0  # an answer is shared with whoever asks the same within this
CONCURRENT = 2  # questions to the Docker engine in flight at once, per process
TAGS_SAID = 20  # tags a refusal lists (then "and N more")
#: where a user is pointed when an image is missing
BUILDING = "its operators build images as in docs/reduce.md, 'Building the 2dFdr image'"

#: (problem, tags): a problem ("" when none) and, for the tags question, the tags
Answer = tuple[str, list[str]]

_slots = threading.BoundedSemaphore(CONCURRENT)
_answers: dict[tuple[str, str, str], tuple[float, Future]] = {}
_lock = threading.Lock()


def repository_of(image: str) -> str:
    """``image``'s repository as the Docker engine names its tags: without a tag or
    digest, and without Docker Hub's implied ``docker.io/`` and ``library/``."""
    from docker.utils import parse_repository_tag

    repository, _ = parse_repository_tag(image.split("@", 1)[0])
    for implied in ("docker.io/", "library/"):
        repository = repository.removeprefix(implied)
    return repository


def _where() -> str:
    return os.environ.get("DOCKER_HOST") or "the local socket"


def _no_answer(exc: BaseException) -> str:
    from docker.errors import APIError

    why = getattr(exc, "explanation", None) or str(exc)[:200] or type(exc).__name__
    if isinstance(exc, APIError):  # the engine answered, with an error
        return f"the Docker engine at {_where()} cannot look it up: {why}"
    return f"no Docker engine answers at {_where()} ({why})"


def _client():
    import docker

    return docker.from_env(timeout=DEADLINE_S)


def _tags(client, image: str) -> list[str]:
    repository = repository_of(image)
    found = (tag for i in client.images.list(name=repository) for tag in i.tags)
    return sorted(tag.rpartition(":")[2] for tag in found if tag.rpartition(":")[0] == repository)


def _ask_tags(image: str) -> Answer:
    client = _client()
    try:
        return "", _tags(client, image)
    finally:
        client.close()


def _ask_problem(image: str) -> Answer:
    from docker.errors import ImageNotFound

    client = _client()
    try:
        try:
            client.images.get(image)
            return "", []
        except ImageNotFound:
            tags = _tags(client, image)
    finally:
        client.close()
    more = f" and {len(tags) - TAGS_SAID} more" if len(tags) > TAGS_SAID else ""
    here = (
        f"its tags here: {', '.join(tags[:TAGS_SAID])}{more}"
        if tags
        else f"no tag of {repository_of(image)} is here"
    )
    return f"the image {image} is not on this platform's Docker engine; {here} ({BUILDING})", []


_QUESTIONS: dict[str, Callable[[str], Answer]] = {"tags": _ask_tags, "problem": _ask_problem}


def ask(question: str, image: str) -> Future:
    """The `Answer` to ``question`` (``"tags"`` or ``"problem"``) about ``image``, as a
    future: the one already asked within `KEEP_S` (or still being answered), else a new
    one. Never raises: a Docker engine that cannot answer is a problem in the answer."""
    key = (_where(), question, image)
    now = time.monotonic()
    with _lock:
        for stale in [k for k, (until, f) in _answers.items() if f.done() and until < now]:
            del _answers[stale]
        if key in _answers:
            return _answers[key][1]
        future: Future = Future()
        _answers[key] = (now + KEEP_S, future)
    if not _slots.acquire(blocking=False):
        future.set_result((f"the Docker engine at {_where()} is still answering others", []))
        return future

    def work() -> None:
        try:
            future.set_result(_QUESTIONS[question](image))
        except Exception as exc:  # a misconfigured DOCKER_HOST (a ValueError) is one too
            future.set_result((_no_answer(exc), []))
        finally:
            _slots.release()

    threading.Thread(target=work, daemon=True, name="hectornb-docker-question").start()
    return future


def answer(future: Future) -> Answer:
    """Wait for a question's answer, at most `DEADLINE_S`."""
    try:
        return future.result(DEADLINE_S)
    except TimeoutError:
        return f"no Docker engine answers at {_where()} within {DEADLINE_S:g} s", []


def image_tags(image: str) -> list[str]:
    """The tags of ``image``'s repository on this process's Docker engine ([] when no
    engine answers)."""
    return answer(ask("tags", image))[1]


def image_problem(image: str) -> str:
    """Why this process's Docker engine cannot run ``image``, in a sentence ("" when it
    can): no engine answers (in time), or the image is not there (then which tags of its
    repository are)."""
    return answer(ask("problem", image))[0]
