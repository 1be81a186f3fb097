"""The training loop (notebooks 03-06): the practical's settings, one or several activations from the same start.

``train_together`` trains one MLP per activation, all from the same initial weights and on the same shuffled
batches, and returns each run's ``History`` (``helpers/history.py``).  It computes what the practical's plain
loop (``helpers/practical.py``, notebook 03) computes; how it does so faster — the data as one tensor, the
activations stacked in one network, the backward pass written out, Adam in one call — is machinery
(``helpers/_machinery/``), which you never need to open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._machinery import settings, training
from .activations import activation_name
from .data import MNISTTensors
from .history import History, Progress

_DEVICE_TYPES = ("cpu", "cuda", "mps")  # what the engine runs on


@dataclass(frozen=True)
class TrainConfig:
    """One training setup (notebooks 03-06); the defaults are the practical's.  Bad values: one clear ValueError."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam", or "sgd" (with ``momentum``; 0 gives plain SGD)
    momentum: float = 0.9
    seed: int = 0  # the initial weights and the batch order
    init: str = "default"  # "default" (PyTorch's), "xavier" or "he"
    init_gain: float = 1.0  # the initial weights times this (1: the init as its authors define it)
    hidden: tuple[int, ...] = (256, 128)
    clip_grad_norm: float | None = None  # clip each model's global gradient norm to this
    train_size: int | None = None  # None: all 60 000 images; fewer only for quick experiments
    device: str | None = None  # None: CUDA, else Apple MPS, else CPU

    def __post_init__(self) -> None:
        settings.check(self)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on (notebook 03): the one asked for, else CUDA, else Apple MPS, else the CPU."""
    if device is not None:
        device = torch.device(device)
        if device.type not in _DEVICE_TYPES:
            raise ValueError(f"device must be cpu, cuda or mps (or e.g. 'cuda:1'), got {device.type!r}: the lab's "
                             f"engine runs on those only.")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU here.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device 'mps' was asked for, but Apple MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def global_grad_norm(model: nn.Module) -> float:
    """The practical's gradient norm (notebook 02 §4): sqrt of the sum over parameters of ||grad||_2 squared."""
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += p.grad.norm(2).item() ** 2
    return total ** 0.5


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = training.EVALUATION_CHUNK
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(accuracy, mean cross-entropy) on (x, y), e.g. the test set (notebook 03 §5); [M] each for stacked models."""
    correct, loss_sum = 0, 0
    for i in range(0, len(x), chunk):
        logits = model(x[i:i + chunk])
        yb = y[i:i + chunk].expand(logits.shape[:-1])
        correct = correct + (logits.argmax(-1) == yb).sum(-1)
        loss_sum = loss_sum + F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none"
        ).view(yb.shape).sum(-1)
    return correct / len(x), loss_sum / len(x)


def train_together(activations: Sequence[str], config: TrainConfig | None = None, *,
                   callback: Callable[[Progress], None] | None = None, progress: bool = True,
                   data: MNISTTensors | None = None, **overrides) -> dict[str, History]:
    """Train one MLP per activation from the same initial weights on the same batches (notebooks 04-06).

    ``overrides`` change single settings of ``config``, e.g. ``epochs=1``.  Returns one :class:`History` per
    activation; ``History.model`` holds the trained network.  ``callback`` gets a ``Progress`` every 50
    iterations and at the end of every epoch (notebook 03's live figure).
    """
    config = replace(config or TrainConfig(), **overrides)
    run = training.start(activations, config, pick_device(config.device), data, callback, progress)
    with training.finishing(run):  # interrupted (■) or NaN: the runs so far go with the exception
        for epoch in range(1, config.epochs + 1):
            correct = training.one_epoch(run, epoch)  # per batch: forward, backward, loss and norms, step
            accuracy, test_loss = evaluate(run.model, run.x_test, run.y_test)  # beyond the practical
            training.end_epoch(run, epoch, correct, accuracy, test_loss)
    return run.runs


def train(activation: str, config: TrainConfig | None = None, **kwargs) -> History:
    """Train one MLP with ``activation`` (notebook 03 §4), the practical's settings unless told otherwise."""
    name = activation_name(activation)
    return train_together([name], config, **kwargs)[name]
