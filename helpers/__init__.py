"""Shared code for the activation-functions lab: every notebook imports from here, so a notebook reads as a story.

Each file here serves notebook sections its docstrings name; the machinery that makes training fast and keeps
answers safe is in ``helpers/_machinery/``, which you never need to open.
"""

from . import _machinery  # noqa: F401 - first: process-wide settings (denormals, MKL's reproducible mode)
from .activations import ACTIVATIONS, PRACTICAL_ACTIVATIONS, activation_name, make_activation
from .data import DataError, load_mnist, mnist_datasets, normalize, practical_transform
from .history import History, Progress, TrainingDiverged, TrainingInterrupted, TrainingUnstable
from .model import MLP, build_mlp, count_parameters
from .practical import global_grad_norm, pick_device
from .train import TrainConfig, evaluate, train, train_together

__all__ = [
    "ACTIVATIONS", "DataError", "History", "MLP", "PRACTICAL_ACTIVATIONS", "Progress", "TrainConfig",
    "TrainingDiverged", "TrainingInterrupted", "TrainingUnstable", "activation_name", "build_mlp", "count_parameters",
    "evaluate", "global_grad_norm", "load_mnist", "make_activation", "mnist_datasets", "normalize", "pick_device",
    "practical_transform", "train", "train_together",
]
