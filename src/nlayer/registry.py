"""Name lookups shared by the registries of activations, losses, initialisers,
optimisers and schedules: a user names a piece by string or passes an object."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
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


def register(
    registry: MutableMapping[str, Callable[..., Any]],
    name: str,
    factory: Callable[..., Any],
    kind: str,
    resolve: Callable[[Any], Any],
    overwrite: bool = False,
) -> None:
    """Add ``factory`` under ``name``; what it builds must carry that name, so
    that a model file naming it means the same thing when it is read back."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {kind} name must be a non-empty string, got {name!r}")
    if name in registry and not overwrite:
        raise ValueError(
            f"{kind} {name!r} is already registered; pass overwrite=True to replace it"
        )
    try:
        built = resolve(factory())
    except TypeError:
        built = None  # a factory that needs parameters: nothing to compare
    if built is not None and built.name != name:
        raise ValueError(
            f"the factory registered as {kind} {name!r} builds one named "
            f"{built.name!r}; register it under {built.name!r} or give it "
            f"name = {name!r}"
        )
    registry[name] = factory
