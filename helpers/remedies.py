"""Batch normalisation and residual connections (notebook 07): deep MLPs trained with plain autograd, not the engine.

The lab's fast engine (``train_together``) knows plain MLPs only, so these networks train in an ordinary PyTorch
loop: ``loss.backward()`` then ``torch.optim.Adam``, on the engine's batches (same seed, same order).  The three
kinds share one set of Linear layers, the ones ``build_mlp(activation, seed, hidden=(width,) * depth)`` makes:

* ``"plain"``:     h_{l+1} = f(W_l h_l + b_l), the MLP itself;
* ``"batchnorm"``: h_{l+1} = f(BN(W_l h_l + b_l)), ``BatchNorm1d`` before the activation (Ioffe & Szegedy 2015);
* ``"residual"``:  h_{l+1} = h_l + f(W_l h_l + b_l) where the widths are equal (not the first layer, 784 -> width,
  nor the output layer).
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ._machinery.cache import cached
from ._machinery.threads import fixed_threads
from ._machinery.training import epoch_order
from .activations import DERIVATIVES, activation_name, make_activation
from .data import MNISTTensors
from .history import History
from .model import build_mlp
from .train import evaluate

KINDS = ("plain", "batchnorm", "residual")


class RemedyNet(nn.Module):
    """An MLP's Linear layers with batch norm before each hidden activation, or skips around each hidden block (notebook 07)."""

    def __init__(self, linears: list[nn.Linear], activation: str, kind: str = "plain") -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"Unknown kind {kind!r}. Choose one of: {', '.join(KINDS)}.")
        self.kind, self.activation = kind, activation_name(activation)
        self.linears = nn.ModuleList(linears)  # the same modules (the same weights), not copies
        self.acts = nn.ModuleList(make_activation(self.activation) for _ in linears[:-1])
        self.norms = nn.ModuleList(nn.BatchNorm1d(m.out_features) for m in linears[:-1]) if kind == "batchnorm" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for i, (linear, act) in enumerate(zip(self.linears[:-1], self.acts)):
            z = linear(h)
            if self.norms is not None:
                z = self.norms[i](z)  # re-centred and rescaled over the batch (train mode), then γ z + β
            skip = self.kind == "residual" and linear.in_features == linear.out_features
            h = h + act(z) if skip else act(z)  # the skip: the identity path around the block
        return self.linears[-1](h)


def build_net(activation: str, seed: int, depth: int = 10, width: int = 128, kind: str = "plain") -> RemedyNet:
    """``build_mlp(activation, seed, hidden=(width,) * depth)``'s weights, as a plain, batch-norm or residual net (notebook 07)."""
    mlp = build_mlp(activation, seed, hidden=(width,) * depth)
    return RemedyNet(mlp.linears(), activation, kind)


@torch.no_grad()
def batchnorm_factors(net: RemedyNet, x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per hidden layer of a batch-norm net on the batch ``x``: mean slope f'(BN(z)) and mean γ/σ_batch(z) (notebook 07)."""
    slopes, gains, h = [], [], x.flatten(1)
    for linear, norm, act in zip(net.linears[:-1], net.norms, net.acts):
        z = linear(h)
        gains.append((norm.weight / (z.var(0, unbiased=False) + norm.eps).sqrt()).mean().item())
        normed = F.batch_norm(z, None, None, norm.weight, norm.bias, training=True, eps=norm.eps)
        h = act(normed)
        slopes.append(DERIVATIVES[net.activation](normed, h).mean().item())
    return slopes, gains


def weight_grad_norms(net: nn.Module) -> list[float]:
    """The L2 norm of each Linear weight's ``.grad``, input side first: what a training step records (notebook 07)."""
    return [m.weight.grad.norm().item() for m in net.modules() if isinstance(m, nn.Linear)]


@contextlib.contextmanager
def _few_threads() -> Iterator[None]:
    """Small matrices: one CPU thread (``LAB_THREADS`` if set) is as fast as two, and far faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(fixed_threads() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_net(net: RemedyNet, data: MNISTTensors, *, seed: int = 0, train_size: int = 6000, epochs: int = 1,
              batch_size: int = 64, lr: float = 1e-3) -> History:
    """Adam with plain autograd on the engine's batches; per iteration loss and norms, per epoch test accuracy (notebook 07)."""
    x, y = data.train_x[:train_size], data.train_y[:train_size]
    generator = torch.Generator().manual_seed(seed)  # the batch order train_together uses for this seed
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    steps = -(-len(x) // batch_size)
    history = History(net.activation, {"kind": net.kind, "seed": seed, "train_size": len(x), "epochs": epochs,
                                       "batch_size": batch_size, "lr": lr}, iterations_per_epoch=steps)
    start = time.perf_counter()
    with _few_threads():
        for _ in range(epochs):
            net.train()  # batch norm: batch statistics, and running averages updated
            order, correct = epoch_order(len(x), generator), 0
            for step in range(steps):
                batch = order[step * batch_size:(step + 1) * batch_size]
                optimizer.zero_grad()
                logits = net(x[batch])
                loss = F.cross_entropy(logits, y[batch])
                loss.backward()
                history.loss.append(loss.item())
                history.grad_norm.append(torch.stack([p.grad.norm() for p in net.parameters()]).norm().item())
                history.layer_grad_norms.append(weight_grad_norms(net))
                correct += (logits.argmax(1) == y[batch]).sum().item()
                optimizer.step()
            net.eval()  # batch norm: the running averages, so an image's prediction does not depend on its batch
            accuracy, test_loss = evaluate(net, data.test_x, data.test_y)
            history.train_acc.append(correct / len(x))
            history.test_acc.append(accuracy.item())
            history.test_loss.append(test_loss.item())
            history.epoch_seconds.append(time.perf_counter() - start)
    net.train()
    history.seconds, history.model = time.perf_counter() - start, net
    return history


def remedy_run(activation: str, kind: str, data: MNISTTensors, *, seed: int = 0, depth: int = 10, width: int = 128,
               train_size: int = 6000, epochs: int = 1, retrain: bool = False) -> History:
    """:func:`train_net` on :func:`build_net`'s network, or its result from the disk cache (notebook 07)."""
    key = {"what": "remedies", "activation": activation_name(activation), "kind": kind, "seed": seed,
           "depth": depth, "width": width, "train_size": train_size, "epochs": epochs, "optimizer": "adam 1e-3",
           "batch_size": 64, "data": "MNIST, normalized (0.5, 0.5)", "loop": "plain autograd"}
    return cached(key, lambda: train_net(build_net(activation, seed, depth, width, kind), data, seed=seed,
                                         train_size=train_size, epochs=epochs), retrain=retrain)
