"""nlayer.plotting: figures of a History, drawn without pyplot, written atomically."""

import io
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib  # noqa: E402
import matplotlib.image  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nlayer  # noqa: E402
from nlayer.plotting import (  # noqa: E402
    PANEL_SIZE,
    gradient_figure,
    loss_figure,
    plot_history,
)

EPOCHS = 12


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    Y = np.sum(X**2, axis=1, keepdims=True)
    net = nlayer.Network([2, 8, 1], ["tanh", "linear"], seed=0)
    return net.fit(X, Y, epochs=EPOCHS, lr=0.05, validation_fraction=0.25)


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    Y = np.eye(2)[labels]
    net = nlayer.Network(
        [2, 6, 5, 2], ["relu", "tanh", "softmax"], loss="cross_entropy", seed=0
    )
    return net.fit(X, Y, epochs=EPOCHS, lr=0.1, validation_fraction=0.25)


@pytest.fixture(scope="module")
def no_validation():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 2))
    Y = X[:, :1] - X[:, 1:]
    net = nlayer.Network([2, 4, 1], ["tanh", "linear"], seed=0)
    return net.fit(X, Y, epochs=5, lr=0.05)


def png_size(path):
    """(width, height) from the PNG signature and IHDR chunk, the first one."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


def pixels(panels, dpi):
    return round(PANEL_SIZE[0] * panels * dpi), round(PANEL_SIZE[1] * dpi)


def xy(line):
    return list(line.get_xdata()), list(line.get_ydata())


# --- files -------------------------------------------------------------------


def test_plot_history_writes_real_pngs_of_the_configured_size(classifier, tmp_path):
    out = tmp_path / "new" / "dir"  # created, parents too
    backend = matplotlib.get_backend()
    paths = plot_history(classifier, out, dpi=50)
    assert matplotlib.get_backend() == backend  # the user's backend is left alone
    assert paths == [out / "loss.png", out / "gradients.png"]
    # the classifier has a validation metric: the loss figure has two panels
    for path, panels in zip(paths, [2, 1], strict=True):
        width, height = png_size(path)
        assert (width, height) == pixels(panels, 50) == (320 * panels, 200)
        assert matplotlib.image.imread(path).shape[:2] == (height, width)
    assert sorted(os.listdir(out)) == ["gradients.png", "loss.png"]  # no temp files


def test_files_are_replaced_whole_and_a_failed_write_leaves_the_old_ones(
    no_validation, tmp_path, monkeypatch
):
    (tmp_path / "loss.png").write_text("an old file")
    plot_history(no_validation, str(tmp_path))  # a str will do; dpi 100 by default
    assert png_size(tmp_path / "loss.png") == pixels(1, 100) == (640, 400)
    assert png_size(tmp_path / "gradients.png") == (640, 400)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(self, fname, *args, **kwargs):
        fname.write(b"half a png")  # a partial write, then the failure
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plot_history(no_validation, tmp_path)
    # no temp file left, and the old PNGs are whole
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_failed_first_write_leaves_an_empty_directory(
    regression, tmp_path, monkeypatch
):
    def broken(self, *args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        plot_history(regression, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []


def render(fig):
    """Draw a figure to PNG bytes in memory, as plot_history would."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=20)
    return buffer.getvalue()


# --- what is drawn -------------------------------------------------------------


def test_loss_figure_draws_one_point_per_epoch(regression):
    h = regression
    assert h.epochs == EPOCHS and len(h.val_loss) == EPOCHS and h.metric == "r2"
    fig = loss_figure(h)
    assert isinstance(fig, Figure)
    ax, metric_ax = fig.axes
    train, val, *best = ax.get_lines()
    epochs = list(range(1, EPOCHS + 1))
    assert xy(train) == (epochs, h.loss)
    assert xy(val) == (epochs, h.val_loss)
    assert train.get_label() == "training loss"
    assert val.get_label() == "validation loss"
    assert ax.get_yscale() == "log"  # losses are positive
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["training loss", "validation loss"]

    (metric_line, *_) = metric_ax.get_lines()
    assert xy(metric_line) == (epochs, h.val_metric)
    assert "r2" in metric_ax.get_title()


def test_the_best_epoch_is_a_dotted_vertical_line_on_each_panel(classifier):
    h = classifier
    assert h.best_epoch is not None and h.metric == "accuracy"
    fig = loss_figure(h)
    assert "accuracy" in fig.axes[1].get_title()
    for ax in fig.axes:
        best = ax.get_lines()[-1]
        assert best.get_linestyle() == ":"
        assert list(best.get_xdata()) == [h.best_epoch + 1] * 2  # vertical
        assert str(h.best_epoch + 1) in best.get_label()


def test_without_validation_only_the_training_line_and_no_metric_panel(
    no_validation,
):
    h = no_validation
    assert h.val_loss == [] and h.val_metric == []
    fig = loss_figure(h)
    assert len(fig.axes) == 1
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines[:1]] == ["training loss"]
    assert all(line.get_linestyle() == ":" for line in lines[1:])  # best epoch only
    assert xy(lines[0]) == (list(range(1, 6)), h.loss)


def test_no_best_epoch_no_dotted_line():
    h = nlayer.History(loss=[1.0, 0.5], grad_norms=[[1.0], [0.5]])
    (line,) = loss_figure(h).axes[0].get_lines()
    assert xy(line) == ([1, 2], [1.0, 0.5])


def test_a_diverged_run_is_drawn_without_warnings():
    # a zero or nan loss has no logarithm: linear axis; inf/nan norms are skipped
    inf, nan = float("inf"), float("nan")
    h = nlayer.History(
        loss=np.array([1.0, 0.0, nan]),  # arrays will do as well as lists
        grad_norms=[[1.0, 0.0], [inf, 1e-5], [nan, nan]],
        best_epoch=np.int64(0),
    )
    fig = loss_figure(h)
    assert fig.axes[0].get_yscale() == "linear"
    assert render(fig)
    fig = gradient_figure(h)
    assert fig.axes[0].get_yscale() == "log"
    assert render(fig)


def test_gradient_figure_has_one_line_per_layer(classifier):
    h = classifier
    fig = gradient_figure(h)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["layer 1", "layer 2", "layer 3"]
    for l, line in enumerate(lines):
        assert xy(line) == (list(range(1, EPOCHS + 1)), [g[l] for g in h.grad_norms])
    assert ax.get_yscale() == "log"
    assert "vanishing" in ax.get_title() and "exploding" in ax.get_title()


def test_zero_gradient_norms_are_drawn_at_the_floor_without_warnings():
    # a dead layer: its norms are exactly zero (warnings are errors here)
    norms = [[0.5, 0.0], [0.2, 0.0], [1e-3, 0.0]]
    h = nlayer.History(loss=[1.0, 0.9, 0.8], grad_norms=norms)
    ax = gradient_figure(h).axes[0]
    assert ax.get_yscale() == "log"
    live, dead = ax.get_lines()
    assert list(live.get_ydata()) == [0.5, 0.2, 1e-3]
    assert list(dead.get_ydata()) == [1e-3] * 3
    assert "zeros drawn at 0.001" in ax.get_legend().get_title().get_text()
    assert render(ax.figure)  # and renders without a warning


def test_all_zero_gradients_fall_back_to_a_linear_axis():
    h = nlayer.History(loss=[1.0, 1.0], grad_norms=[[0.0, 0.0], [0.0, 0.0]])
    ax = gradient_figure(h).axes[0]
    assert ax.get_yscale() == "linear"
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[0.0, 0.0]] * 2
    assert render(ax.figure)


def test_figures_drawn_in_threads_at_once(regression, classifier):
    # each figure has its own canvas and no pyplot registry, so threads may draw
    results, errors = {}, []

    def draw(i, h):
        try:
            results[i] = render(gradient_figure(h))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=draw, args=(i, h))
        for i, h in enumerate([regression, classifier])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results[0] == render(gradient_figure(regression))  # as drawn alone


# --- errors --------------------------------------------------------------------


@pytest.mark.parametrize("draw", [loss_figure, gradient_figure, plot_history])
def test_a_history_with_no_epochs_is_refused(draw, tmp_path):
    args = (tmp_path,) if draw is plot_history else ()
    with pytest.raises(ValueError, match="^history has no epochs to plot$"):
        draw(nlayer.History(), *args)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "not_a_history", [None, [0.1, 0.2], {"loss": [0.1]}, "loss", nlayer.History]
)
@pytest.mark.parametrize("draw", [loss_figure, gradient_figure, plot_history])
def test_something_else_is_a_type_error(draw, not_a_history, tmp_path):
    args = (tmp_path,) if draw is plot_history else ()
    with pytest.raises(TypeError, match="expected an nlayer History"):
        draw(not_a_history, *args)


def test_inconsistent_histories_are_refused():
    grads = [[1.0]] * 2
    with pytest.raises(ValueError, match="val_loss has 1 entries for 2 epochs"):
        loss_figure(nlayer.History(loss=[1.0, 0.5], val_loss=[1.0], grad_norms=grads))
    with pytest.raises(ValueError, match="grad_norms has 1 entries for 2"):
        gradient_figure(nlayer.History(loss=[1.0, 0.5], grad_norms=[[1.0]]))
    with pytest.raises(ValueError, match="one norm per layer"):
        gradient_figure(nlayer.History(loss=[1.0, 0.5], grad_norms=[[1.0], [1, 2]]))
    with pytest.raises(ValueError, match="best_epoch"):
        loss_figure(nlayer.History(loss=[1.0], grad_norms=[[1.0]], best_epoch=1))
    with pytest.raises(TypeError, match="list of numbers"):
        loss_figure(nlayer.History(loss=["a"], grad_norms=[[1.0]]))
    with pytest.raises(TypeError, match="list of lists"):
        gradient_figure(nlayer.History(loss=[1.0], grad_norms=[1.0]))


def test_a_history_saved_as_a_dict_is_pointed_back_to_history():
    h = nlayer.History(loss=[1.0], grad_norms=[[1.0]])
    with pytest.raises(TypeError, match=r"nlayer.History\(\*\*d\)"):
        loss_figure(h.as_dict())
    assert loss_figure(nlayer.History(**h.as_dict()))


@pytest.mark.parametrize("dpi", [0, -1, float("nan"), "100", True])
def test_a_bad_dpi_is_refused(regression, tmp_path, dpi):
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        plot_history(regression, tmp_path, dpi=dpi)


def test_without_matplotlib_the_message_says_how_to_get_it(regression, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    with pytest.raises(ImportError, match="pip install matplotlib"):
        loss_figure(regression)


# --- no global matplotlib state ---------------------------------------------------


def test_plotting_loads_matplotlib_late_and_never_pyplot_nor_a_backend(tmp_path):
    # a fresh interpreter: this test process may have pyplot from elsewhere
    code = f"""
import sys
import nlayer, nlayer.plotting
print("matplotlib" in sys.modules)  # importing is free; drawing loads it
import matplotlib
matplotlib.use("pdf")  # the user's choice, which plotting must keep
h = nlayer.History(loss=[1.0, 0.5], val_loss=[1.1, 0.7], val_metric=[0.2, 0.4],
                   metric="r2", grad_norms=[[1.0, 0.1], [0.5, 0.0]], best_epoch=1)
nlayer.plotting.plot_history(h, {str(tmp_path)!r})
print("matplotlib.pyplot" in sys.modules, matplotlib.get_backend())
"""
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["False", "False", "pdf"]
    assert png_size(tmp_path / "loss.png") == pixels(2, 100)
