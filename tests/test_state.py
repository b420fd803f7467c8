"""The Monitor of the best epoch: its two rules, value by value, and the
TrainingState it lives in."""

import math

import numpy as np
import pytest

from nlayer.history import History
from nlayer.state import Monitor, TrainingState


def run(monitor, values):
    """(improved?, best, waited) after each value."""
    out = []
    for epoch, v in enumerate(values):
        improved = monitor.update(v, epoch)
        out.append((improved, monitor.best, monitor.waited))
    return out


def test_the_nlayer_rule_needs_a_min_delta_improvement_over_the_last_one():
    # best stays at the last improvement: 9.5 and 9.0 are within 1 of 10
    steps = run(Monitor(min_delta=1.0), [10.0, 9.5, 9.0, 8.9, 8.5])
    assert steps == [
        (True, 10.0, 0),
        (False, 10.0, 1),
        (False, 10.0, 2),
        (True, 8.9, 0),  # beats 10 by more than 1
        (False, 8.9, 1),
    ]


def test_the_scikit_learn_rule_follows_the_lowest_value_seen():
    # scikit-learn's MLP: no improvement while loss > best − tol; best = min seen
    steps = run(Monitor(min_delta=1.0, rule="scikit-learn"), [10.0, 9.5, 9.0, 8.0])
    assert steps == [
        (True, 10.0, 0),
        (False, 9.5, 1),
        (False, 9.0, 2),
        (True, 8.0, 0),  # 8.0 <= 9.0 − 1: an improvement, at equality too
    ]


def test_a_score_is_maximised():
    steps = run(Monitor("max", 0.1, "scikit-learn"), [0.5, 0.55, 0.7, 0.69])
    assert [s[0] for s in steps] == [True, False, True, False]
    assert steps[-1][1] == 0.7


def test_nan_never_improves_and_never_becomes_best():
    m = Monitor()
    m.update(1.0, 0)
    assert not m.update(math.nan, 1) and m.best == 1.0 and m.waited == 1
    s = Monitor("max", rule="scikit-learn")
    s.update(0.5, 0)
    assert not s.update(math.nan, 1) and s.best == 0.5


def test_a_new_best_keeps_a_copy_of_the_weights_and_its_epoch():
    m, params = Monitor(), np.array([1.0, 2.0])
    m.update(3.0, 0, params)
    params[...] = 9.0  # the copy is not a view
    m.update(4.0, 1, params)
    assert m.best_epoch == 0 and m.best_params.tolist() == [1.0, 2.0]


def test_a_bad_mode_or_rule_is_refused():
    with pytest.raises(ValueError, match="mode is 'min' or 'max'"):
        Monitor(mode="up")
    with pytest.raises(ValueError, match="rule one of"):
        Monitor(rule="keras")


def test_the_state_knows_its_last_epoch():
    state = TrainingState(epochs=3, history=History())
    assert state.monitor.best == math.inf and state.epoch == state.step == 0
    state.epoch = 2
    assert not state.last_epoch
    state.stop = True
    assert state.last_epoch
