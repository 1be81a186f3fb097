"""Notebook 05's exercise (§3): a deep MLP from the registry, the network ``helpers.model.MLP`` builds.

The check judges what the student's network does, not how its code is laid out: it runs it on real MNIST images
with forward hooks (the layers in the order they run, a reused module as often as it runs), gives the same weights
to ``MLP(activation, hidden=(width,) * depth)`` and compares the outputs, then checks every layer gets a gradient.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import solutions
from .._machinery.checking import Exercise, Mistake, Verdict, call
from ..activations import ACTIVATIONS, activation_name
from ..data import load_mnist
from ..model import MLP


@functools.lru_cache(maxsize=1)
def _images() -> tuple[torch.Tensor, torch.Tensor]:
    """64 real MNIST test images [64, 1, 28, 28], normalized as the lab does, and their labels."""
    data = load_mnist("cpu")
    return data.test_x[:64].reshape(64, 1, 28, 28).clone(), data.test_y[:64].clone()


def _layer_name(m: nn.Module) -> str:
    return f"Linear({m.in_features} → {m.out_features})" if isinstance(m, nn.Linear) else type(m).__name__


def _run(model: nn.Module, x: torch.Tensor) -> tuple[list[nn.Module], torch.Tensor]:
    """(the leaf modules in the order the forward pass runs them, the output) for the batch ``x``."""
    ran: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda module, _inp, _out: ran.append(module))
             for m in model.modules() if not list(m.children())]
    try:
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return ran, out


def _reference_with(linears: list[nn.Linear], activation: str, after_output: str | None = None) -> nn.Module:
    """``MLP``'s network (or it with an activation after the output) holding copies of the student's weights."""
    reference = MLP(activation, hidden=[m.out_features for m in linears[:-1]])
    with torch.no_grad():
        for mine, ref in zip(linears, reference.linears()):
            ref.weight.copy_(mine.weight)
            ref.bias.copy_(mine.bias)
    return nn.Sequential(reference, ACTIVATIONS[after_output]()) if after_output else reference


def _check_layers(linears: list[nn.Linear], names: list[str], activation: str, depth: int, width: int) -> None:
    """Raise the Mistake in the Linear layers that ran: their number, sizes, biases, weights and parameters."""
    if len(linears) != depth + 1:
        few = len(linears) < depth + 1
        raise Mistake(f"one hidden layer too {'few' if few else 'many'}" if abs(len(linears) - depth - 1) == 1 else
                      f"{len(linears)} Linear layers", f"`depth` = {depth} hidden layers and the output layer make "
                      f"{depth + 1} Linear layers; in your network {len(linears)} ran: {' → '.join(names)}")
    sizes = [(m.in_features, m.out_features) for m in linears]
    want = [(784, width)] + [(width, width)] * (depth - 1) + [(width, 10)]
    if sizes != want:
        listed = [", ".join(f"{a} → {b}" for a, b in layers) for layers in (want, sizes)]
        raise Mistake("layer sizes", f"for width {width} the Linear layers are {listed[0]}; yours: {listed[1]}")
    if any(m.bias is None for m in linears):
        raise Mistake("no biases", "a layer made with `bias=False` has no bias; the exercise's layers have one")
    if any(not p.requires_grad for m in linears for p in m.parameters()):
        raise Mistake("frozen parameters", "some weights have `requires_grad=False`: training would never change them")
    if any(m.weight.detach().std() == 0 for m in linears):
        raise Mistake("all weights of a layer equal", "a layer whose weights all start equal (zero, say) gives every "
                                                      "unit the same output and gradient: they never become different")


def _diagnose_deep_mlp(_name: str, function: Callable) -> Verdict:
    """What ``MLP(activation, hidden=(width,) * depth)`` computes, run on real images, for two settings."""
    x, y = _images()
    shown = []
    for activation, depth, width in (("Tanh", 3, 16), ("relu", 1, 8)):
        model = call(function, activation, depth, width)
        if isinstance(model, (list, tuple)):
            raise Mistake("returned a list of layers", "the exercise asks for one network (one `nn.Module`) that "
                                                       "runs them in order")
        if not isinstance(model, nn.Module):
            raise Mistake("not a network", f"your function returned a {type(model).__name__}; return an nn.Module")
        model.eval()  # the check's forward passes: a Dropout is reported below, not run at random
        try:
            ran, out = _run(model, x)
        except RuntimeError as first:
            try:
                _run(model, x.flatten(1))
            except Exception:  # noqa: BLE001 - not a missing Flatten: the first error is the student's to see
                raise first from None
            raise Mistake("no Flatten: fails on [N, 1, 28, 28] images", "it runs on [N, 784]; a Linear layer reads "
                                                                        "one row of 784 numbers per image") from None
        names = [_layer_name(m) for m in ran]
        extra = sorted({n for m, n in zip(ran, names) if isinstance(m, (nn.Dropout, nn.BatchNorm1d, nn.LayerNorm))})
        if extra:
            raise Mistake(f"{', '.join(extra)} not asked for", "the exercise's network has Linear layers and "
                                                               "activations only (the notebook compares it with one)")
        linears = [m for m in ran if isinstance(m, nn.Linear)]
        _check_layers(linears, names, activation, depth, width)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (64, 10):
            raise Mistake("wrong output shape", f"64 images give {list(getattr(out, 'shape', []))}, not [64, 10]")
        with torch.no_grad():
            same = lambda ref: torch.allclose(out, ref(x), rtol=1e-4, atol=1e-5)  # noqa: E731
            if not same(_reference_with(linears, activation)):
                if same(_reference_with(linears, activation, after_output=activation_name(activation))):
                    raise Mistake("activation after the output layer", "the last Linear gives the 10 class scores "
                                                                       "(logits); CrossEntropyLoss wants them raw")
                other = next((n for n in ACTIVATIONS if same(_reference_with(linears, n))), None)
                if other is not None:
                    raise Mistake("wrong activation", f"for {activation!r} your network applies {other}; the "
                                                      "activation is the one named by the argument")
                raise Mistake("not what the MLP computes", f"with your weights, `MLP({activation!r}, hidden="
                              f"{(width,) * depth})` gives other outputs on the same images (your layers ran as: "
                              f"{' → '.join(names)})")
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        for i, m in enumerate(linears, 1):
            if m.weight.grad is None or not m.weight.grad.abs().sum().isfinite() or m.weight.grad.abs().sum() == 0:
                raise Mistake(f"no gradient reaches Linear layer {i}", "something in the forward pass cuts it off "
                                                                      "from the loss (a `.detach()`, a `no_grad`?)")
        shown.append(" → ".join(names))
    return Verdict("done", f"on 64 MNIST images, `deep_mlp('Tanh', 3, 16)` ran {shown[0]}: the outputs of "
                           f"`MLP('Tanh', hidden=(16, 16, 16))` with your weights, and every layer gets a gradient; "
                           f"`deep_mlp('relu', 1, 8)` is right too.")


_EXERCISES = (  # notebook 05's exercise, for the registry ``helpers.exercises.EXERCISES``
    Exercise("deep_mlp", "05", "a deep MLP from the registry", ("deep_mlp",), (solutions.deep_mlp,),
             "`helpers.solutions.deep_mlp`, what `helpers.model.MLP` builds",
             ("Start a list with `nn.Flatten()`: it turns [N, 1, 28, 28] images into [N, 784].",
              "Add `depth` pairs `nn.Linear(n_in, width)`, `make_activation(activation)`; the first Linear reads 784 "
              "inputs, the others `width`.",
              "End with `nn.Linear(width, 10)`, with no activation after it, and return `nn.Sequential(*layers)`."),
             _diagnose_deep_mlp),
)
