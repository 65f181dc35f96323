"""Packages whose public names load on first use (PEP 562).

A page's kernel that imports ``hectornb.reduce.service`` should not pay for pandas because
``hectornb/reduce/__init__.py`` re-exports the archive index: each package names where its
public names live, and a name's module is imported when the name is first asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_names(package: str, where: dict[str, str]) -> tuple[Callable, Callable, list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose public names
    live in the submodules ``where`` says (name -> submodule, relative to the package,
    or ``"..module:attribute"`` for a name taken from elsewhere under another name)."""
    names = sorted(where)

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = where[name].partition(":")
        value = getattr(import_module(module, package), attribute or name)
        import_module(package).__dict__[name] = value  # once found, a plain attribute
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names
