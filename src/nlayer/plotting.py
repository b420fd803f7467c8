"""Figures of a training run: loss curves and per-layer gradient norms.

Drawn from a :class:`~nlayer.training.History` with matplotlib's Agg renderer on
``matplotlib.figure.Figure`` objects, never through ``pyplot``: no global figure
registry and no backend switch, so it works in threads, on machines without a
display, and leaves the user's own matplotlib set-up alone.

matplotlib is optional (``pip install matplotlib``); it is imported when a
figure is drawn, so ``import nlayer`` and ``import nlayer.plotting`` stay light.

>>> history = net.fit(X, Y, epochs=100, validation_fraction=0.2)  # doctest: +SKIP
>>> plot_history(history, "runs/1")  # doctest: +SKIP
[PosixPath('runs/1/loss.png'), PosixPath('runs/1/gradients.png')]
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Collection, Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import non_negative

if TYPE_CHECKING:  # for annotations only: importing them must not load matplotlib
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .training import History

__all__ = ["gradient_figure", "loss_figure", "plot_history"]

# Inches per panel; at dpi=100 a one-panel figure is 640 × 400 pixels.
PANEL_SIZE = (6.4, 4.0)
_FIELDS = ("loss", "val_loss", "val_metric", "grad_norms", "best_epoch")


def _figure(panels: int) -> Figure:
    """A blank figure on its own Agg canvas (what pyplot would do, minus its state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from e
    fig = Figure(figsize=(PANEL_SIZE[0] * panels, PANEL_SIZE[1]), layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    return fig


def _series(name: str, values: Any, epochs: int, optional: bool = False) -> list[float]:
    """One float per epoch (or none, if ``optional``), else a clear error."""
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"history.{name} must be a list of numbers") from None
    if len(out) != epochs and not (optional and not out):
        raise ValueError(
            f"history.{name} has {len(out)} entries for {epochs} epochs"
            + (" (it may be empty)" if optional else "")
        )
    return out


def _is_list(value: Any) -> bool:
    # lists, tuples, NumPy arrays; not strings or dicts, which are iterable too
    return isinstance(value, Collection) and not isinstance(
        value, (str, bytes, Mapping)
    )


def _checked(history: Any) -> int:
    """Raise unless ``history`` looks like a History with epochs; return epochs."""
    missing = [f for f in _FIELDS if not hasattr(history, f)]
    if missing or isinstance(history, type):
        raise TypeError(
            "expected an nlayer History (what Network.fit returns), got "
            f"{type(history).__name__}"
            + (f" without {', '.join(missing)}" if missing else "")
            + (
                "; turn History.as_dict()'s dict back with nlayer.History(**d)"
                if isinstance(history, Mapping)
                else ""
            )
        )
    if not _is_list(history.loss):
        raise TypeError("history.loss must be a list of numbers")
    epochs = len(history.loss)
    if epochs == 0:
        raise ValueError("history has no epochs to plot")
    best = history.best_epoch
    is_int = isinstance(best, Integral) and not isinstance(best, bool)
    if best is not None and not (is_int and 0 <= best < epochs):
        raise ValueError(f"history.best_epoch must be in [0, {epochs}), got {best!r}")
    return epochs


def _all_positive(*series: list[float]) -> bool:
    return all(v > 0 and math.isfinite(v) for s in series for v in s)


def _epoch_axis(
    ax: Axes, best_epoch: int | None, legend_title: str | None = None
) -> None:
    """Integer epoch ticks from 1, the best epoch as a dotted line, a legend."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    if best_epoch is not None:
        ax.axvline(
            best_epoch + 1,
            color="grey",
            linestyle=":",
            label=f"best epoch ({best_epoch + 1})",
        )
    ax.grid(True, alpha=0.3)
    ax.legend(title=legend_title)


def _marker(epochs: int) -> str | None:
    # dots show single epochs on short runs, and would clutter long ones
    return "." if epochs <= 50 else None


def loss_figure(history: History) -> Figure:
    """Training and validation loss per epoch, and the validation metric if any.

    Panel 1 holds the lines "training loss", "validation loss" (with validation
    data) and the best epoch's dotted line, in that order; panel 2, present only
    with a validation metric, holds the metric and the same dotted line.
    """
    epochs = _checked(history)
    loss = _series("loss", history.loss, epochs)
    val_loss = _series("val_loss", history.val_loss, epochs, optional=True)
    val_metric = _series("val_metric", history.val_metric, epochs, optional=True)
    metric = getattr(history, "metric", None) or "metric"
    x = list(range(1, epochs + 1))  # people count epochs from 1
    panels = 2 if val_metric else 1

    fig = _figure(panels)
    ax = fig.add_subplot(1, panels, 1)
    ax.plot(x, loss, marker=_marker(epochs), label="training loss")
    if val_loss:
        ax.plot(x, val_loss, marker=_marker(epochs), label="validation loss")
    # losses span decades; log only where every point has a logarithm, so a
    # zero or a diverged (inf/nan) loss neither warns nor vanishes
    if _all_positive(loss, val_loss):
        ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.set_title("loss per epoch")
    _epoch_axis(ax, history.best_epoch)

    if val_metric:
        ax2 = fig.add_subplot(1, panels, 2)
        ax2.plot(
            x,
            val_metric,
            marker=_marker(epochs),
            color="C2",
            label=f"validation {metric}",
        )
        ax2.set_ylabel(metric)
        ax2.set_title(f"validation {metric}")
        _epoch_axis(ax2, history.best_epoch)
    return fig


def _grad_table(history: Any, epochs: int) -> list[list[float]]:
    """history.grad_norms checked, transposed to one list per layer."""
    rows = history.grad_norms
    if not _is_list(rows) or not all(_is_list(row) for row in rows):
        raise TypeError("history.grad_norms must be a list of lists of numbers")
    if len(rows) != epochs:
        raise ValueError(
            f"history.grad_norms has {len(rows)} entries for {epochs} epochs"
        )
    table = [_series(f"grad_norms[{e}]", row, len(row)) for e, row in enumerate(rows)]
    n_layers = len(table[0])
    if n_layers == 0 or any(len(row) != n_layers for row in table):
        raise ValueError("history.grad_norms must hold one norm per layer every epoch")
    return [[row[l] for row in table] for l in range(n_layers)]


def gradient_figure(history: History) -> Figure:
    """Each layer's mean gradient norm per epoch on a log scale, one line per layer.

    The lines are "layer 1" … "layer L", input side first. A norm of exactly
    zero (a dead layer) has no place on a log axis, yet hiding it would hide a
    vanished gradient, so zeros are drawn at the smallest positive norm in the
    figure and the legend's title says so.
    """
    epochs = _checked(history)
    norms = _grad_table(history, epochs)
    values = [v for layer in norms for v in layer]
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    floor = min(positive, default=0.0)
    # inf/nan (a blown-up run) are left to matplotlib, which skips them quietly
    log = floor > 0 and not any(v < 0 for v in values)
    x = list(range(1, epochs + 1))

    fig = _figure(1)
    ax = fig.add_subplot(1, 1, 1)
    for l, layer in enumerate(norms):
        y = [floor if v == 0 else v for v in layer] if log else layer
        ax.plot(x, y, marker=_marker(epochs), label=f"layer {l + 1}")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("mean gradient norm ‖(dW, db)‖₂")
    ax.set_title("gradient norm per layer: vanishing / exploding gradients")
    zeros = log and any(v == 0 for v in values)
    _epoch_axis(ax, None, f"zeros drawn at {floor:.3g}" if zeros else None)
    return fig


def _save_atomic(fig: Figure, path: Path, dpi: float) -> None:
    """Render to memory, then write atomically: ``path`` is the old PNG or the
    whole new one, never half of it."""
    from .safefile import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue())


def plot_history(
    history: History, out_dir: str | os.PathLike[str], *, dpi: float = 100
) -> list[Path]:
    """Write ``loss.png`` and ``gradients.png`` into ``out_dir``; return their paths.

    ``out_dir`` is created if missing. Each file is written atomically, so a
    crash or a reader never sees half a PNG. At ``dpi`` d a one-panel figure is
    6.4·d × 4·d pixels; the loss figure is twice as wide with a metric panel.
    """
    dpi = non_negative("dpi", dpi, positive=True)
    out = Path(out_dir)
    paths = []
    # a diverged run's losses reach 1e300: matplotlib's log-scale transforms
    # overflow on the way to a correct picture, and say so
    with np.errstate(over="ignore"):
        # build both before writing either, so a bad history leaves out_dir alone
        figures = {
            "loss.png": loss_figure(history),
            "gradients.png": gradient_figure(history),
        }
        out.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            _save_atomic(fig, out / name, dpi)
            paths.append(out / name)
    return paths
