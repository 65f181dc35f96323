"""Run one function in a child process that a time limit and a memory limit can stop.

Parsing what strangers send (a TAP upload, say) can take quadratic time or unbounded memory
inside a library that holds Python's GIL, and a thread cannot be stopped. A child process
can: it is killed when it runs out of time, its address space is capped, and while it works
the server's own threads keep answering. Children come from a fork server with the parsing
libraries already imported, so starting one costs milliseconds, not an astropy import.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import threading

_lock = threading.Lock()
_context: mp.context.ForkServerContext | None = None


class IsolatedError(RuntimeError):
    """The child did not give an answer: out of time, out of memory, or killed."""


class TimeLimitExceeded(IsolatedError):
    pass


class MemoryLimitExceeded(IsolatedError):
    pass


def _fork_server(preload: tuple[str, ...]) -> mp.context.ForkServerContext:
    global _context
    with _lock:
        if _context is None:
            ctx = mp.get_context("forkserver")
            # The fork server is one per process: the first caller's modules are preloaded.
            ctx.set_forkserver_preload(["__main__", *preload])
            _context = ctx
        return _context


def _address_space() -> int:
    """Bytes of virtual memory this process has mapped now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(conn, fn, args, memory: int | None) -> None:
    try:
        if memory:
            # on top of what is mapped already (numpy's thread pools reserve a lot of it)
            cap = _address_space() + memory
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        outcome = (True, fn(*args))
    except MemoryError:
        outcome = (False, MemoryLimitExceeded(f"it needed more than {memory} bytes of memory"))
    except BaseException as exc:  # handed to the parent, which raises it
        outcome = (False, exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # an exception that cannot be pickled: its words instead
        conn.send((False, IsolatedError(f"{type(outcome[1]).__name__}: {outcome[1]} ({exc})")))
    finally:
        conn.close()


def run_isolated(
    fn, *args, seconds: float, memory: int | None = None, preload: tuple[str, ...] = ()
):
    """``fn(*args)`` in a child process; its return value, or the exception it raised.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by name), as are its arguments and result.
    seconds : float
        Wall-clock time the child may take, s; after that it is killed and
        `TimeLimitExceeded` raised.
    memory : int, optional
        Bytes of memory the child may allocate on top of what it starts with; beyond that
        its allocations fail and `MemoryLimitExceeded` is raised.
    preload : tuple of str
        Modules the fork server imports once, so children start with them loaded.
    """
    ctx = _fork_server(preload)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, memory), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise TimeLimitExceeded(f"it took longer than {seconds:g} s")
        try:
            ok, value = parent.recv()
        except EOFError:
            proc.join(5)
            raise IsolatedError(f"the worker process stopped (exit code {proc.exitcode})") from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
    if ok:
        return value
    raise value
