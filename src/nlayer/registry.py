"""Name lookups shared by the registries of activations, losses, initialisers,
optimisers and schedules: a user names a piece by string or passes an object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: Any, kind: str, hint: str = "") -> T:
    """``registry[name]``, or a ValueError listing the known names."""
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(registry)}{hint}")
    return registry[name]


def as_object(
    spec: Any, base: type[T], methods: tuple[str, ...], adapter: Callable[[Any], T]
) -> T:
    """``spec`` if it is a ``base``; ``adapter(spec)`` if it has ``methods``."""
    if isinstance(spec, base):
        return spec
    kind = base.__name__.lower()
    if isinstance(spec, type):
        raise TypeError(
            f"pass a {kind} instance, e.g. {spec.__name__}(), not the class"
        )
    if all(callable(getattr(spec, m, None)) for m in methods):
        return adapter(spec)
    wanted = " and ".join(f"{m}()" for m in methods)
    raise TypeError(f"a {kind} is a name or an object with {wanted}; got {spec!r}")
