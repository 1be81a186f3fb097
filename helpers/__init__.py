"""Shared code for the activation-functions lab: data, model, training engine, plots, viva.

Every notebook imports from here, so a notebook reads as a story and no code is pasted twice.
"""

import torch as _torch

# The one place that sets this.  Saturated sigmoid/tanh units and Adam's second moments produce
# denormal floats (below 1.2e-38), and x86 arithmetic on them is many times slower (a saturated
# step took 2.6 ms instead of 1.7).  Flushing them to zero must happen before PyTorch starts its
# worker threads, which inherit the setting: so, here, on importing helpers.
_torch.set_flush_denormal(True)

from .data import DATA_DIR_VARIABLE, DataError, data_dir, ensure_mnist, load_mnist, mnist_datasets, normalize, practical_transform
from .model import ACTIVATIONS, MLP, PRACTICAL_ACTIVATIONS, activation_name, build_mlp, count_parameters, make_activation
from .engine import StackedMLP
from .train import (History, Progress, TrainConfig, TrainingDiverged, TrainingInterrupted, TrainingUnstable, evaluate,
                    global_grad_norm, pick_device, train, train_together)

__all__ = [
    "ACTIVATIONS", "DATA_DIR_VARIABLE", "DataError", "History", "MLP", "PRACTICAL_ACTIVATIONS", "Progress",
    "StackedMLP", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "TrainingUnstable", "activation_name", "build_mlp",
    "count_parameters", "data_dir", "ensure_mnist", "evaluate", "global_grad_norm", "load_mnist",
    "make_activation", "mnist_datasets", "normalize", "pick_device", "practical_transform", "train",
    "train_together",
]
