"""scikit-learn's own estimator checks, every one of them, with no expected failure.

Three show as skipped by scikit-learn itself: the two array-API checks run only
with SCIPY_ARRAY_API=1 set, and the decision_function check only for
estimators that have one (MLPClassifier has none either).
check_sample_weight_equivalence_on_dense_data passes because its 15 samples fit
in one batch; with several mini-batches per epoch, repeating a sample and
weighting it give different batches, as for any mini-batch SGD."""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nlayer.estimators import NLayerClassifier, NLayerRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    # the checks train with the default max_iter on tiny data sets
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


@parametrize_with_checks(
    [NLayerClassifier(random_state=0), NLayerRegressor(random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
