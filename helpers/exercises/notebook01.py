"""Notebook 01's exercises: two Linear layers collapsed into one (§1), and σ′, tanh′, ReLU′ (§3).

Each check compares the student's function with the library's on fixed inputs; typical mistakes get a message.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch
from torch import nn

from .. import activations, theory
from ..model import build_mlp
from .._machinery.checking import Exercise, Mistake, Verdict, call, constant_factor, match

_DERIVATIVE_OF = {"sigmoid_derivative": "Sigmoid", "tanh_derivative": "Tanh", "relu_derivative": "ReLU"}
_FORMULA = {"Sigmoid": "σ(z)(1 − σ(z))", "Tanh": "1 − tanh²(z)", "ReLU": "the step (1 for z > 0, 0 for z < 0)"}
_GRID = torch.arange(-600, 601, dtype=torch.float64) / 100  # -6.00 ... 6.00, with 0 exactly


# ----------------------------------------------------------------------------- σ′, tanh′ and ReLU′ (§3)

def _derivative_mistakes(name: str, z: torch.Tensor) -> list[tuple[torch.Tensor, str, str]]:
    """(what a typical wrong answer returns, its summary, what to do) for one activation's derivative."""
    with torch.no_grad():
        f = activations.make_activation(name)(z)
    if name == "Sigmoid":
        return [(f, "returned σ(z) itself", "that is the activation; its derivative is σ(z)(1 − σ(z))"),
                (z * (1 - z), "used z where σ(z) belongs", "first `a = torch.sigmoid(z)`, then `a * (1 - a)`"),
                (1 - f, "only the factor 1 − σ(z)", "multiply it by σ(z): σ′(z) = σ(z)(1 − σ(z))")]
    if name == "Tanh":
        return [(1 - f, "1 − tanh(z): forgot the square", "tanh′(z) = 1 − tanh²(z): `1 - torch.tanh(z) ** 2`"),
                (f, "returned tanh(z) itself", "that is the activation; its derivative is 1 − tanh²(z)"),
                (1 - z * z, "used z where tanh(z) belongs", "square tanh(z), not z: `1 - torch.tanh(z) ** 2`"),
                (f * f, "returned tanh²(z)", "the derivative is 1 minus that: 1 − tanh²(z)")]
    return [(f, "returned ReLU itself instead of its step", "ReLU′(z) is 1 for every z > 0, however large, and 0 for "
                                                            "z < 0: `(z > 0).to(z.dtype)`"),
            ((z < 0).to(z.dtype), "the step the wrong way round", "ReLU′ is 1 for z > 0 and 0 for z < 0"),
            (torch.sign(z), "returned sign(z)", "for z < 0 ReLU is flat: its slope there is 0, not −1")]


def _derivative_output(function: Callable, z: torch.Tensor) -> torch.Tensor:
    """The function's values at z as float64, after checking type, shape, dtype and that z was left alone."""
    original = z.clone()
    out = call(function, z)
    if not torch.equal(z, original):
        raise Mistake("changed its input", "your function changed z in place (e.g. `z.sigmoid_()`); compute a new tensor")
    if not isinstance(out, torch.Tensor):
        raise Mistake("not a tensor", f"your function returned a {type(out).__name__}; use torch functions on z")
    if out.shape != z.shape:
        raise Mistake("wrong shape", f"for z of shape {list(z.shape)} your function returned shape {list(out.shape)}; "
                                     "the derivative is taken element by element, so it has z's shape")
    if not out.is_floating_point():
        raise Mistake(f"values of type {out.dtype}", "a derivative is a number: convert with `.to(z.dtype)`")
    return out.detach().to(torch.float64)


def _diagnose_derivative(function_name: str, function: Callable) -> Verdict:
    """Compare one derivative with ``activations.derivative`` on -6 ... 6 and on a [3, 4] float32 tensor."""
    name, formula = _DERIVATIVE_OF[function_name], _FORMULA[_DERIVATIVE_OF[function_name]]
    _derivative_output(function, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))  # shape, dtype
    z = _GRID.clone()
    mine, reference = _derivative_output(function, z), activations.derivative(name, z)
    defined = z != 0 if name == "ReLU" else torch.ones_like(z, dtype=torch.bool)  # ReLU has no derivative at 0
    same = lambda a, b: torch.allclose(a[defined], b[defined], rtol=1e-5, atol=1e-6)  # noqa: E731
    if not same(mine, reference):
        match(mine, _derivative_mistakes(name, z), same)
        c = constant_factor(mine[defined], reference[defined])
        if c is not None:
            raise Mistake("off by a constant factor", f"your values are {c:.4g} × {formula}")
        i = int(((mine - reference).abs() * defined).argmax())
        raise Mistake("not the derivative", f"at z = {z[i].item():g} you return {mine[i].item():.4g}; "
                                            f"{formula} is {reference[i].item():.4g} there")
    gap = (mine - reference)[defined].abs().max().item()
    found = f"equals {formula} at all {int(defined.sum())} points from −6 to 6 (largest difference {gap:.0e})"
    if name != "ReLU":
        return Verdict("done", found + ".")
    at_zero = mine[z == 0].item()
    if at_zero not in (0.0, 1.0):
        raise Mistake("at z = 0", f"you return {at_zero:g}; ReLU has a corner there and no derivative: return 0 "
                                  "(PyTorch's choice) or 1")
    note = "0, as PyTorch does" if at_zero == 0 else "1; PyTorch uses 0, and both are fine: ReLU has no derivative there"
    return Verdict("done", f"{found}; at z = 0 you return {note}.")


# ----------------------------------------------------------------------------- collapse (§1)

def _weight_and_bias(result: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) from what the student returned, or a Mistake saying what it is instead."""
    if isinstance(result, nn.Linear):
        raise Mistake("returned a layer", "return the two tensors, `return W, b`, not an nn.Linear")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mistake("return (W, b)", f"your function returned {type(result).__name__}; return two tensors: W, b")
    if not all(isinstance(t, torch.Tensor) for t in result):
        raise Mistake("W and b must be tensors", "compute them from `first.weight`, `first.bias`, ... with `@` and `+`")
    return tuple(t.detach().to(torch.float64) for t in result)


def _collapse_mistakes(first: nn.Linear, second: nn.Linear, W: torch.Tensor, b: torch.Tensor) -> None:
    """Raise the typical mistake behind a wrong W or b (layers 4 → 4 → 4, where every mistake still runs)."""
    W1, b1, W2, b2 = (t.detach() for t in (first.weight, first.bias, second.weight, second.bias))
    same = lambda a, c: a.shape == c.shape and torch.allclose(a, c, rtol=1e-6, atol=1e-9)  # noqa: E731
    if not same(W, W2 @ W1):
        match(W, [(W1 @ W2, "W₁W₂ in the wrong order", "x meets W₁ first, so W₁ stands next to x: W = W₂W₁"),
                  ((W2 @ W1).T, "W transposed", "nn.Linear keeps its weight as [out, in]; W = W₂W₁ already is"),
                  (W2 * W1, "multiplied element by element", "`*` multiplies entry by entry; the product is `@`")], same)
        raise Mistake("W is not W₂W₁", f"your W differs from W₂W₁ by up to {(W - W2 @ W1).abs().max().item():.3g}")
    if not same(b, W2 @ b1 + b2):
        match(b, [(b2, "bias without W₂b₁", "b₁ passes through the second layer too: b = W₂b₁ + b₂"),
                  (b1 + b2, "forgot W₂ in front of b₁ (b₁ + b₂)", "the second layer multiplies b₁ by W₂: b = W₂b₁ + b₂"),
                  (W2 @ b1, "forgot + b₂", "the second layer adds its own bias: b = W₂b₁ + b₂"),
                  (W1 @ b2 + b1, "the biases in the wrong order", "b = W₂b₁ + b₂")], same)
        raise Mistake("b is not W₂b₁ + b₂", f"your b differs by up to {(b - W2 @ b1 - b2).abs().max().item():.3g}")


def _diagnose_collapse(_name: str, function: Callable) -> Verdict:
    """second(first(x)) = x @ W.T + b? On 4 → 4 → 4 layers (diagnosis), then on 5 → 4 → 3 (shapes)."""
    gaps = []
    for sizes, seed in (((4, 4, 4), 11), ((5, 4, 3), 12)):
        net = build_mlp(None, seed, hidden=sizes[1:2], in_features=sizes[0], out_features=sizes[2]).double()
        first, second = net.linears()
        W, b = _weight_and_bias(call(function, first, second))
        if W.shape != (sizes[2], sizes[0]) or b.shape != (sizes[2],):
            raise Mistake("wrong shapes", f"for layers {sizes[0]} → {sizes[1]} → {sizes[2]}, W must be "
                                          f"{sizes[2]} × {sizes[0]} and b have {sizes[2]} entries; yours are "
                                          f"{list(W.shape)} and {list(b.shape)}")
        _collapse_mistakes(first, second, W, b)
        x = torch.randn(100, sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            gaps.append((second(first(x)) - (x @ W.T + b)).abs().max().item())
    return Verdict("done", f"second(first(x)) = x @ W.T + b for 100 random inputs x, for layers 4 → 4 → 4 and "
                           f"5 → 4 → 3 (W is 3 × 5 there); largest difference {max(gaps):.0e}.")


_EXERCISES = (  # notebook 01's exercises, for the registry ``helpers.exercises.EXERCISES``
    Exercise("derivatives", "01", "σ′, tanh′ and ReLU′", tuple(_DERIVATIVE_OF),
             tuple(functools.partial(activations.derivative, n) for n in _DERIVATIVE_OF.values()),
             "`helpers.activations.DERIVATIVES`",
             ("Write each derivative with the activation's output: first `a = torch.sigmoid(z)` (or `torch.tanh(z)`).",
              "σ′ = σ(1 − σ) and tanh′ = 1 − tanh²: element by element with `*` and `**`, no loop needed.",
              "ReLU′ is a step: `(z > 0)` gives True/False, `.to(z.dtype)` turns that into 1.0/0.0."),
             _diagnose_derivative),
    Exercise("collapse", "01", "two Linear layers collapsed into one", ("collapse_two",), (theory.collapse_two,),
             "`helpers.theory.collapse_two`, which `theory.collapse` applies layer by layer",
             ("Write out second(first(x)) = W₂(W₁x + b₁) + b₂ and multiply out the bracket.",
              "A Linear layer keeps its matrix in `.weight` ([out, in]) and its bias in `.bias`; `@` multiplies matrices.",
              "W = W₂W₁ (the second layer's matrix on the left) and b = W₂b₁ + b₂."),
             _diagnose_collapse),
)
