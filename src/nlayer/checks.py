"""Argument checks: is a value a number in a range? One place for every module.

``is_number`` answers the question; ``interval`` writes the range as a reader
expects it ("[0, 1)"); ``check_number`` and its two short forms raise a
``ValueError`` that names the argument, the range and what was given. Modules
whose messages follow another convention (the estimators follow scikit-learn's,
the command line click's) ask ``is_number`` and word the message themselves.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def is_number(
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> bool:
    """True for a finite real number (an integer when ``integer``; never a bool)
    within [lo, hi], each end open when asked; None is no bound."""
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind):
        return False
    try:
        if not math.isfinite(value):
            return False
    except OverflowError:  # an integer beyond the float range
        return False
    # integers compare exactly (2**62 − 1 < 2**62); others as floats
    v: Any = value if integer else float(value)
    if lo is not None and not (v > lo if lo_open else v >= lo):
        return False
    return hi is None or (v < hi if hi_open else v <= hi)


def interval(
    lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False
) -> str:
    """The range as written in maths: "[0, 1)", "(0, inf)"."""
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    low = "-inf" if lo is None else f"{lo:g}"
    high = "inf" if hi is None else f"{hi:g}"
    return f"{left}{low}, {high}{right}"


def check_number(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> Any:
    """``value`` if it is a number in range, else a ValueError naming ``name``."""
    if not is_number(value, lo, hi, lo_open=lo_open, hi_open=hi_open, integer=integer):
        what = "an integer" if integer else "a number"
        raise ValueError(
            f"{name} must be {what} in {interval(lo, hi, lo_open, hi_open)}, "
            f"got {value!r}"
        )
    return value


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int ≥ 1, else a ValueError naming ``name``."""
    if not is_number(value, 1, integer=True):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative(name: str, value: Any, positive: bool = False) -> float:
    """``value`` as a float ≥ 0 (> 0 when ``positive``), else a ValueError."""
    if not is_number(value, 0, lo_open=positive):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} number, got {value!r}")
    return float(value)
