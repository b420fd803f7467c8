"""nlayer: fully-connected N-layer networks trained by analytic backpropagation.

>>> import nlayer
>>> net = nlayer.Network([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], seed=0)
>>> net.summary(batch_size=100)  # doctest: +SKIP
"""

from . import activations, initializers, losses, optimizers
from .activations import Activation, check_activation, register_activation
from .data import DataWarning
from .gradcheck import gradcheck, gradcheck_layers, numeric_gradient
from .io import ModelFileError, load, save
from .losses import Loss, check_loss, register_loss
from .model import Model
from .network import Network
from .optimizers import Optimizer
from .tables import DataError
from .training import (
    CheckpointWarning,
    History,
    StopTraining,
    TrainingDiverged,
    TrainingInterrupted,
    fit,
)
from .version import __version__


def __getattr__(name: str) -> object:
    # the estimators need scikit-learn: import them only when asked for, so that
    # `import nlayer` stays NumPy-only
    if name in ("NLayerClassifier", "NLayerRegressor"):
        try:
            from . import estimators
        except ImportError as e:
            raise ImportError(
                f"nlayer.{name} needs scikit-learn: pip install scikit-learn ({e})"
            ) from None
        return getattr(estimators, name)
    raise AttributeError(f"module 'nlayer' has no attribute {name!r}")


__all__ = [
    "Activation",
    "CheckpointWarning",
    "DataError",
    "DataWarning",
    "History",
    "Loss",
    "Model",
    "ModelFileError",
    "NLayerClassifier",
    "NLayerRegressor",
    "Network",
    "Optimizer",
    "StopTraining",
    "TrainingDiverged",
    "TrainingInterrupted",
    "activations",
    "check_activation",
    "check_loss",
    "fit",
    "gradcheck",
    "gradcheck_layers",
    "initializers",
    "load",
    "losses",
    "numeric_gradient",
    "optimizers",
    "register_activation",
    "register_loss",
    "save",
    "__version__",
]
