"""The practical's training loop in plain PyTorch: read this first, then the fast engine.

``DataLoader`` batches of 64 from ``torchvision.datasets.MNIST`` (``ToTensor`` then ``Normalize``), the
MLP with the activation passed in, ``torch.optim.Adam``, ``CrossEntropyLoss``; per batch the loss and
the global gradient norm, per epoch the training accuracy.  ``helpers.train.train`` computes the same
numbers (notebook 03 runs both and compares them) several times faster; ``benchmarks/speed.py`` times
this loop as its baseline.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from .data import mnist_datasets
from ._machinery.engine import StackedMLP, adam, linear_params
from .activations import activation_name
from .history import History
from .model import build_mlp
from .train import global_grad_norm, pick_device


def training_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  optimizer: torch.optim.Optimizer, criterion: nn.Module) -> tuple[float, float, torch.Tensor]:
    """One step of the practical's loop; returns (loss, global gradient norm, the batch's outputs) (notebook 03)."""
    optimizer.zero_grad()  # the gradients of the last batch must not add to this one's
    outputs = model(images)  # forward
    loss = criterion(outputs, labels)
    loss.backward()  # every parameter's .grad = dloss/dparameter
    norm = global_grad_norm(model)  # measured after backward, before the step changes the weights
    optimizer.step()  # Adam moves every parameter using its .grad
    return loss.item(), norm, outputs


def correct_predictions(outputs: torch.Tensor, labels: torch.Tensor) -> int:
    """How many images of the batch the network classified right: the class with the largest output wins (notebook 03)."""
    return (outputs.argmax(dim=1) == labels).sum().item()


def train_plain(activation: str = "ReLU", epochs: int = 5, seed: int = 0, max_iterations: int | None = None,
                device: str | None = None, step: Callable = training_step,
                count: Callable = correct_predictions) -> History:
    """The practical's loop.  ``seed`` fixes the initial weights and the batch order, as in ``train(...)`` (notebook 03).

    ``max_iterations`` stops early (for quick comparisons); ``step`` and ``count`` can be your own versions.
    """
    device = pick_device(device)  # "cuda" when there is a GPU
    train_set, test_set = mnist_datasets()  # torchvision's MNIST with ToTensor() and Normalize((0.5,), (0.5,))
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed))
    model = build_mlp(activation, seed).to(device)  # 784 -> 256 -> 128 -> 10, the activation passed in
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    history = History(activation_name(activation), {"epochs": epochs, "seed": seed, "device": str(device)},
                      iterations_per_epoch=len(loader))
    start = time.perf_counter()
    for _ in range(epochs):
        correct, seen = 0, 0
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            loss, norm, outputs = step(model, images, labels, optimizer, criterion)
            history.loss.append(loss)
            history.grad_norm.append(norm)
            correct, seen = correct + count(outputs, labels), seen + len(labels)
            if len(history.loss) == max_iterations:
                break
        history.train_acc.append(correct / seen)  # per epoch, as the practical reports it
        history.test_acc.append(_test_accuracy(model, test_set, device))  # beyond the practical
        if len(history.loss) == max_iterations:
            break
    history.seconds, history.model = time.perf_counter() - start, model
    return history


@torch.no_grad()
def _test_accuracy(model: nn.Module, test_set, device: torch.device) -> float:
    """The share of the 10 000 test images the network classifies right."""
    correct = 0
    for images, labels in DataLoader(test_set, batch_size=1000):
        correct += correct_predictions(model(images.to(device)), labels.to(device))
    return correct / len(test_set)


def one_step_each(activation: str = "ReLU", seed: int = 0, device: str | None = None) -> dict[str, float]:
    """One step of this loop and one of the engine from the same weights on the same batch (notebook 03, section 2).

    Returns how far apart they are, as |plain - engine| / |plain| (for tensors: the norm of the difference over
    the norm) for the loss, the gradient norm, all gradients together and all weights after Adam's step.
    Float32 rounds at about 6e-8 relative: the same computation in another order differs by about that much.
    """
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
