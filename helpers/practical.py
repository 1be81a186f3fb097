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
from .activations import activation_name
from .history import History
from .model import build_mlp


_DEVICE_TYPES = ("cpu", "cuda", "mps")  # what the lab's engine runs on


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on (notebook 03): the one asked for, else CUDA, else Apple MPS, else the CPU."""
    if device is not None:
        have = ", ".join(t for t, ok in [("cpu", True), ("cuda", torch.cuda.is_available()),
                                         ("mps", torch.backends.mps.is_available())] if ok)
        try:
            device = torch.device(device.strip().lower() if isinstance(device, str) else device)
        except RuntimeError:  # not a device PyTorch knows: its own message lists 20 kinds
            raise ValueError(f"device must be cpu, cuda or mps (this machine has: {have}), got {device!r}.") from None
        if device.type not in _DEVICE_TYPES:
            raise ValueError(f"device must be cpu, cuda or mps (or e.g. 'cuda:1'), got {device.type!r}: the lab's "
                             f"engine runs on those only (this machine has: {have}).")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device 'cuda' was asked for, but PyTorch sees no CUDA GPU here (this machine has: "
                             f"{have}).")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} was asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA GPU(s), numbered from 0.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device 'mps' was asked for, but Apple MPS is not available here (this machine has: "
                             f"{have}).")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def global_grad_norm(model: nn.Module) -> float:
    """The practical's gradient norm (notebook 02 §6): sqrt of the sum over parameters of ||grad||_2 squared."""
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += p.grad.norm(2).item() ** 2
    return total ** 0.5


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
