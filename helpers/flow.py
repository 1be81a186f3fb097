"""Measuring gradient flow (notebooks 03-06): per-layer gradient norms, saturation and dead units.

Each function works on an ordinary :class:`~helpers.model.MLP` (``History.model`` after training, or
``build_mlp(...)`` for the network at initialisation) and a fixed batch of images, or on a run's ``History``.
"""

from __future__ import annotations

import math
from statistics import mean, median
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .activations import ACTIVATIONS, DERIVATIVES
from .history import History
from .model import MLP

# Notebook 05 §2: a Sigmoid/Tanh value counts as *saturated* when its derivative is below this share of the
# derivative's maximum: σ'(z) < 0.01 · 0.25 for Sigmoid (|z| > 6.0), tanh'(z) < 0.01 · 1 for Tanh (|z| > 3.0).
SATURATION_THRESHOLD = 0.01
_SATURATING = ("Sigmoid", "Tanh")


# ----------------------------------------------------------------------------- activations

def _activation_modules(model: MLP) -> list[nn.Module]:
    """The activation modules of an MLP, input side first (one per hidden layer)."""
    kind = type(ACTIVATIONS[model.activation]())
    return [m for m in model.net if isinstance(m, kind)]


@torch.no_grad()
def capture_activations(model: MLP, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every hidden layer's activation for the batch ``x`` ([N, units] each), via forward hooks (notebook 05)."""
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _inp, out: outputs.append(out.detach()))
             for m in _activation_modules(model)]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return outputs


def _stuck(activation: str, a: torch.Tensor, threshold: float) -> torch.Tensor:
    """True where a Sigmoid/Tanh output's derivative is < threshold · its maximum, or where a ReLU output is 0."""
    if activation == "ReLU":
        return a <= 0
    if activation not in _SATURATING:
        raise ValueError(f"saturation_per_layer measures Sigmoid, Tanh (saturation) and ReLU (dead units), "
                         f"not {activation!r}.")
    return DERIVATIVES[activation](None, a) < threshold * (0.25 if activation == "Sigmoid" else 1.0)  # f' from a = f(z)


def saturation_per_layer(model: MLP, x: torch.Tensor, threshold: float = SATURATION_THRESHOLD,
                         chunk: int = 10_000) -> list[float]:
    """Per hidden layer over all of ``x``, in chunks: saturated share (Sigmoid, Tanh), dead-unit share (ReLU) (notebooks 04, 05)."""
    counts: list[torch.Tensor] = []  # per layer and unit: on how many images it was saturated or 0
    for start in range(0, len(x), chunk):
        part = [_stuck(model.activation, a, threshold).sum(0) for a in capture_activations(model, x[start:start + chunk])]
        counts = [c + p for c, p in zip(counts, part)] if counts else part
    if model.activation == "ReLU":
        return [(c == len(x)).double().mean().item() for c in counts]
    return [c.sum().item() / (len(x) * c.numel()) for c in counts]


def activation_variance(model: MLP, x: torch.Tensor) -> list[float]:
    """Per hidden layer: the variance of the activation outputs over the batch and the units (notebook 06)."""
    return [a.var().item() for a in capture_activations(model, x)]


# ----------------------------------------------------------------------------- gradients

def layer_grad_norms_at_init(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """L2 norm of each Linear weight's gradient of the mean cross-entropy on (x, y), input side first (notebooks 05, 06).

    Any network of Linear layers will do (an MLP, your own class): the layers are taken in the order the forward
    pass runs them, not the order the code defines them.  Uses ``torch.autograd.grad``: ``.grad`` is left alone.
    """
    ran: list[nn.Linear] = []
    hooks = [m.register_forward_hook(lambda module, _in, _out: ran.append(module))
             for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        for h in hooks:
            h.remove()
    grads = torch.autograd.grad(loss, [m.weight for m in dict.fromkeys(ran)])
    return [g.norm().item() for g in grads]


def first_last_ratio(norms: Sequence[float]) -> float:
    """First layer's gradient norm divided by the last layer's (well below 1: vanishing; well above: exploding) (notebook 05)."""
    return norms[0] / norms[-1]


def history_ratio(history: History, where: str = "start", window: int = 20) -> float:
    """First/last-layer ratio of the mean gradient norms over the first (``"start"``) or last ``window`` iterations (notebooks 05, 06)."""
    if where not in ("start", "end"):
        raise ValueError(f"where must be 'start' or 'end', got {where!r}.")
    rows = history.layer_grad_norms[:window] if where == "start" else history.layer_grad_norms[-window:]
    if not rows:
        raise ValueError("The history has no recorded iterations.")
    return mean(r[0] for r in rows) / mean(r[-1] for r in rows)


def layer_shares(history: History, window: slice = slice(None)) -> tuple[list[float], list[float]]:
    """Per Linear weight, input side first: mean gradient norm and mean share of the squared global norm over ``window`` (notebooks 03 §6, 04 §2, 05 §1)."""
    # share = ‖∂L/∂W_l‖² / ‖∇θ L‖² at each iteration, then averaged; the weights' shares add up to less than 1: the
    # global norm also counts the biases.
    rows, totals = history.layer_grad_norms[window], history.grad_norm[window]
    if not rows:
        raise ValueError("The history has no recorded iterations in this window.")
    return ([mean(r[i] for r in rows) for i in range(len(rows[0]))],
            [mean((r[i] / g) ** 2 for r, g in zip(rows, totals)) for i in range(len(rows[0]))])


def mean_std(curves: Sequence[Sequence[float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Point-wise mean and standard deviation (n-1) of equally long curves, e.g. one per seed (notebook 06)."""
    stacked = torch.tensor([list(c) for c in curves], dtype=torch.float64)
    return stacked.mean(0), stacked.std(0) if len(curves) > 1 else torch.zeros(stacked.shape[1], dtype=torch.float64)




# ----------------------------------------------------------------------------- over training: History.diagnostics

def update_ratio(history: History, layer: int, part: str = "all") -> float:
    """Median log10 ‖ΔW‖/‖W‖ of Linear layer ``layer`` (0 = input side) over the run or its ``"second half"`` (notebook 05 §5)."""
    rows = history.diagnostics["update_ratio"]
    rows = rows[len(rows) // 2:] if part == "second half" else rows
    return median(math.log10(r[layer]) if r[layer] > 0 else -math.inf for r in rows)


def flat_share(history: History, layer: int, when: str = "end", units: bool = False) -> float:
    """Hidden layer ``layer``'s (0 = first) share of flat values (``units``: units flat for the whole batch), at the
    first recorded batch (``"start"``) or the mean of the last 5 (``"end"``) (notebook 05 §5)."""
    rows = history.diagnostics["flat_units" if units else "flat_share"]
    return rows[0][layer] if when == "start" else mean(r[layer] for r in rows[-5:])


def value_share(history: History, layer: int, low: float, high: float) -> float:
    """Share of hidden layer ``layer``'s values between ``low`` and ``high`` on the last recorded batch (notebook 05 §5)."""
    first, last, bins = history.diagnostics["bins"]
    edges = [first + i * (last - first) / bins for i in range(bins + 1)]
    return sum(s for s, a, b in zip(history.diagnostics["histogram"][-1][layer], edges, edges[1:])
               if a >= low - 1e-9 and b <= high + 1e-9)
