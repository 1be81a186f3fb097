"""Notebook 05's exercise (§3): a deep MLP from the registry, with the layers of ``helpers.model.MLP``.

The check compares the student's layers, in order, with ``MLP``'s for two settings; typical mistakes get a message.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import solutions
from .._machinery.checking import Exercise, Mistake, Verdict, call
from ..activations import activation_name
from ..model import MLP


def _describe(model: nn.Module) -> list[str]:
    """The network's layers in order, e.g. ["Flatten", "Linear(784 → 16)", "Tanh", ...]."""
    return [f"Linear({m.in_features} → {m.out_features})" if isinstance(m, nn.Linear) else type(m).__name__
            for m in model.modules() if not list(m.children())]


def _structure_mistake(mine: list[str], want: list[str], activation: str, depth: int) -> Mistake:
    """The Mistake that explains how the layers ``mine`` differ from the layers ``want``."""
    linears = sum(layer.startswith("Linear") for layer in mine)
    acts = {layer for layer in mine if not layer.startswith("Linear") and layer != "Flatten"}
    if mine[:-1] == want and not mine[-1].startswith("Linear"):
        return Mistake("activation after the output layer", "the last Linear gives the 10 class scores (logits); "
                                                           "CrossEntropyLoss wants them raw: no activation after it")
    if "Flatten" not in mine and mine == want[1:]:
        return Mistake("no Flatten: fails on [N, 1, 28, 28] images", "a Linear layer reads [N, 784]: start with "
                                                                     "`nn.Flatten()`")
    if linears in (depth, depth + 2):
        return Mistake(f"one hidden layer too {'many' if linears > depth + 1 else 'few'}",
                       f"{depth} hidden layers and the output layer make {depth + 1} Linear layers; yours has {linears}")
    if acts and acts != {activation_name(activation)}:
        return Mistake("wrong activation", f"for {activation!r} the layers should be {activation_name(activation)}, "
                                           f"yours are {', '.join(sorted(acts))}: use `make_activation(activation)`")
    if "Flatten" not in mine:
        return Mistake("no Flatten: fails on [N, 1, 28, 28] images", f"start with `nn.Flatten()`; expected "
                                                                     f"{' → '.join(want)}, yours: {' → '.join(mine)}")
    return Mistake("not the expected layers", f"expected {' → '.join(want)}; yours: {' → '.join(mine)}")


def _diagnose_deep_mlp(_name: str, function: Callable) -> Verdict:
    """Same layers, in the same order, as ``MLP(activation, hidden=(width,) * depth)``; maps images to 10 scores."""
    layers = []
    for activation, depth, width in (("Tanh", 3, 16), ("relu", 1, 8)):
        model = call(function, activation, depth, width)
        if isinstance(model, (list, tuple)):
            raise Mistake("returned a list of layers", "wrap them into one module: `nn.Sequential(*layers)`")
        if not isinstance(model, nn.Module):
            raise Mistake("not a network", f"your function returned a {type(model).__name__}; return an nn.Module")
        mine, want = _describe(model), _describe(MLP(activation, hidden=(width,) * depth))
        if mine != want:
            raise _structure_mistake(mine, want, activation, depth)
        with torch.no_grad():
            shape = tuple(model(torch.zeros(2, 1, 28, 28)).shape)
        if shape != (2, 10):
            raise Mistake("wrong output shape", f"a batch of 2 images gives {list(shape)}, not [2, 10]")
        layers.append(mine)
    return Verdict("done", f"`deep_mlp('Tanh', 3, 16)` is {' → '.join(layers[0])}, "
                           f"the layers of `MLP('Tanh', hidden=(16, 16, 16))`, and maps a [2, 1, 28, 28] batch to "
                           f"[2, 10]; `deep_mlp('relu', 1, 8)` is right too.")


_EXERCISES = (  # notebook 05's exercise, for the registry ``helpers.exercises.EXERCISES``
    Exercise("deep_mlp", "05", "a deep MLP from the registry", ("deep_mlp",), (solutions.deep_mlp,),
             "`helpers.solutions.deep_mlp`, the layers of `helpers.model.MLP`",
             ("Start a list with `nn.Flatten()`: it turns [N, 1, 28, 28] images into [N, 784].",
              "Add `depth` pairs `nn.Linear(n_in, width)`, `make_activation(activation)`; the first Linear reads 784 "
              "inputs, the others `width`.",
              "End with `nn.Linear(width, 10)`, with no activation after it, and return `nn.Sequential(*layers)`."),
             _diagnose_deep_mlp),
)
