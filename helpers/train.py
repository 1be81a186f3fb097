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
from torch.utils.data import DataLoader

from ._machinery import settings, threads, training
from ._machinery.engine import StackedMLP, adam, linear_params
from .activations import activation_name
from .data import MNISTTensors, mnist_datasets
from .history import History, Progress
from .model import build_mlp
from .practical import pick_device, training_step

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
    diagnostics_every: int = 0  # k > 0: every k iterations record update ratios and activation histograms (05 §5)

    def __post_init__(self) -> None:
        settings.check(self)


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

    ``overrides`` change single settings, e.g. ``epochs=1``; ``callback`` gets a ``Progress`` every 50 iterations
    and at each epoch's end (notebook 03's live figure)."""
    config = replace(config or TrainConfig(), **overrides)
    threads.fixed_threads()  # a bad LAB_THREADS is said before the data loads
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


def one_step_each(activation: str = "ReLU", seed: int = 0, device: str | None = None) -> dict[str, float]:
    """One step of the plain loop (``practical.py``) and one of the engine, same weights, same batch (notebook 03 §2).

    Returns |plain - engine| / |plain| (tensors: norms) for the loss, the gradient norm, the gradients and the
    weights after Adam's step; float32 rounds at about 6e-8 relative."""
    device = pick_device(device)
    train_set, _ = mnist_datasets()
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed))
    images, labels = (t.to(device) for t in next(iter(loader)))  # the first batch either loop sees
    model = build_mlp(activation, seed).to(device)
    loss, norm, _ = training_step(model, images, labels, torch.optim.Adam(model.parameters(), lr=1e-3),
                                  nn.CrossEntropyLoss())
    engine = StackedMLP([build_mlp(activation, seed)]).to(device)
    _, losses = engine.forward_backward(images.flatten(1), labels)
    total = engine.grad_norms()[0]
    grads = [g.clone() for g in engine.per_model([p.grad for p in engine.params], 0)]
    adam(engine.params, 1e-3, device).step()

    def apart(plain: list[torch.Tensor], fast: list[torch.Tensor]) -> float:
        a, b = torch.cat([t.detach().flatten() for t in plain]), torch.cat([t.flatten() for t in fast])
        return ((a - b).norm() / a.norm()).item()

    return {"loss": abs(loss - losses[0].item()) / loss, "gradient norm": abs(norm - total[0].item()) / norm,
            "gradients": apart([p.grad for p in linear_params(model)], grads),
            "weights after the step": apart(linear_params(model), engine.per_model(engine.params, 0))}
