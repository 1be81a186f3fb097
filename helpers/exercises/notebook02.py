"""Notebook 02's exercise (§5): the global gradient norm, √(Σ‖g‖²) over every parameter's gradient.

Checked on a small network after one backward pass, against ``practical.global_grad_norm``; typical mistakes get a message.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .._machinery.checking import Exercise, Mistake, Verdict, both, call, close, match, number, returning
from ..model import build_mlp
from ..practical import global_grad_norm


def _model_with_gradients(seed: int = 3) -> nn.Module:
    """A 12 → 16 → 8 → 10 Tanh MLP after one backward pass on 32 random inputs (fixed seeds); the loss is scaled
    so that the global norm is far above any clipping threshold a student might write (about 40)."""
    model = build_mlp("Tanh", seed=seed, hidden=(16, 8), in_features=12)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(32, 12, generator=g), torch.randint(0, 10, (32,), generator=g)
    (100 * F.cross_entropy(model(x), y)).backward()
    return model


def _diagnose_grad_norm(_name: str, function: Callable) -> Verdict:
    """The global L2 norm over every parameter's gradient, against ``practical.global_grad_norm``."""
    model = _model_with_gradients()
    before = [p.grad.clone() for p in model.parameters()]
    value, converted = number(call(function, model), "the norm")
    if any(not torch.equal(p.grad, g) for p, g in zip(model.parameters(), before)):
        raise Mistake("changed the gradients", "your function changed `.grad` while measuring it (clipping scales "
                                               "the gradients): the norm is only read")
    reference = global_grad_norm(model)
    if close(value, reference):
        tip = " (It returns a tensor or NumPy number; the notebook turns it into a Python float.)" if converted else ""
        adapted = returning(function, lambda v: number(v, "the norm")[0]) if converted else None
        return Verdict("done", f"your norm {value:.6g} equals the reference (a 12 → 16 → 8 → 10 MLP, 6 parameter "
                               f"tensors, gradients of norm about {reference:.0f}, its gradients left unchanged).{tip}",
                       adapted=adapted)
    norms = [p.grad.norm().item() for p in model.parameters()]
    weights = [p.grad.norm().item() for n, p in model.named_parameters() if n.endswith("weight")]
    match(value, [(sum(n * n for n in norms), "missing square root", "you returned the sum of the squares: the "
                   "global norm is a length, so look at the last step"),
                  (sum(norms), "summed norms instead of squares", "adding the tensors' norms is not the length of "
                   "all the numbers together: look at what is added up"),
                  (math.sqrt(sum(n * n for n in weights)), "only the weights: forgot the biases",
                   "`model.parameters()` gives every weight matrix and every bias vector; use them all"),
                  (norms[-1], "only the last tensor", "each loop step replaced the total instead of adding to it"),
                  (math.sqrt(sum(n * n for n in norms) / len(norms)), "averaged instead of summed",
                   "the squares are added up, not averaged over the tensors")], lambda a, b: close(a, b, 1e-4))
    other = _model_with_gradients(seed=4)  # a constant factor gives the same ratio on another network
    c = value / reference if reference else 0.0
    if c and abs(c - 1) > 1e-3 and close(number(call(function, other), "the norm")[0], c * global_grad_norm(other),
                                         1e-4):
        raise Mistake("off by a constant factor", f"your norm and the reference are {both(value, reference)}: "
                                                  f"yours is {c:.4g} times too large")
    raise Mistake("not the global norm", f"on a 12 → 16 → 8 → 10 network your function returned {value:.6g}; the "
                                         f"global norm of its gradients is {both(value, reference).split(' and ')[1]}")


_EXERCISES = (  # notebook 02's exercise, for the registry ``helpers.exercises.EXERCISES``
    Exercise("grad_norm", "02", "the global gradient norm", ("grad_norm",), (global_grad_norm,),
             "`helpers.practical.global_grad_norm`",
             ("Loop over `model.parameters()`; each parameter `p` has its gradient in `p.grad`, of its own shape.",
              "The global norm is the length of all the gradients' numbers taken together: squares add up across "
              "tensors, lengths do not.",
              "`total += p.grad.norm(2).item() ** 2` for every tensor (weights and biases), then `total ** 0.5`."),
             _diagnose_grad_norm),
)
