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
# Beyond the grid: random points up to |z| = 30 (a clamped input shows there) and points within 1e-7 of 0 (a steep
# smooth step in place of ReLU's shows there); |z| stays where exp(|z|)² fits float32, so a right formula never
# overflows.
_WIDE = torch.cat([torch.empty(200, dtype=torch.float64).uniform_(-30, 30, generator=torch.Generator().manual_seed(1)),
                   torch.tensor([-30.0, -20.0, 20.0, 30.0, -1e-4, 1e-4, -1e-7, 1e-7], dtype=torch.float64)])


# ----------------------------------------------------------------------------- σ′, tanh′ and ReLU′ (§3)

def _derivative_mistakes(name: str, z: torch.Tensor) -> list[tuple[torch.Tensor, str, str]]:
    """(what a typical wrong answer returns, its summary, what to look at) for one activation's derivative."""
    with torch.no_grad():
        f = activations.make_activation(name)(z)
    if name == "Sigmoid":
        return [(f, "returned σ(z) itself", "that is the activation; the exercise asks for its slope"),
                (z * (1 - z), "used z where σ(z) belongs", "the formula is written with the activation's output, "
                                                           "not with its input z"),
                (1 - f, "only the factor 1 − σ(z)", "one factor of the product is missing")]
    if name == "Tanh":
        return [(1 - f, "1 − tanh(z): forgot the square", "look at the power of tanh in the formula"),
                (f, "returned tanh(z) itself", "that is the activation; the exercise asks for its slope"),
                (1 - z * z, "used z where tanh(z) belongs", "the formula is written with the activation's output, "
                                                           "not with its input z"),
                (f * f, "returned tanh²(z)", "that is part of the formula, not all of it")]
    return [(f, "returned ReLU itself instead of its slope", "for z > 0 ReLU is a straight line of slope 1, however "
                                                             "large z is"),
            ((z < 0).to(z.dtype), "the step the wrong way round", "on which side of 0 is ReLU flat?"),
            (torch.sign(z), "returned sign(z)", "for z < 0 ReLU is flat: its slope there is 0, not −1")]


def _derivative_output(function: Callable, z: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(the function's values at z as float64, whether they had to be converted to a tensor of z's dtype), after
    checking shape, dtype and that z was left alone."""
    original = z.clone()
    out = call(function, z)
    if not torch.equal(z, original):
        raise Mistake("changed its input", "your function changed z in place (a method ending in `_`); compute a "
                                           "new tensor")
    converted = not isinstance(out, torch.Tensor) or out.dtype != z.dtype
    if type(out).__module__ == "numpy" or isinstance(out, (list, tuple, float, int)) and not isinstance(out, bool):
        out = torch.as_tensor(out)
    if not isinstance(out, torch.Tensor):
        raise Mistake("not a tensor", f"your function returned a {type(out).__name__}; the derivative at every "
                                      "point of z is a tensor of z's shape")
    if out.shape != z.shape:
        raise Mistake("wrong shape", f"for z of shape {list(z.shape)} your function returned shape {list(out.shape)}; "
                                     "the derivative is taken element by element, so it has z's shape")
    if not out.is_floating_point():
        raise Mistake(f"values of type {out.dtype}", "a derivative is a number at each point, in z's dtype")
    return out.detach().to(torch.float64), converted


def _in_dtype_of_z(function: Callable) -> Callable:
    """The student's derivative, its values as a tensor of z's dtype (a NumPy round trip gives float64 arrays)."""
    @functools.wraps(function)
    def adapted(z: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(function(z)).to(device=z.device, dtype=z.dtype)
    return adapted


def _diagnose_derivative(function_name: str, function: Callable) -> Verdict:
    """Compare one derivative with ``activations.derivative`` on -6 ... 6, at random points up to |z| = 30 and near
    0, and on a [3, 4] float32 tensor (shape, dtype)."""
    name, formula = _DERIVATIVE_OF[function_name], _FORMULA[_DERIVATIVE_OF[function_name]]
    _, converted = _derivative_output(function, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    for z in (_GRID.clone(), _WIDE.clone()):
        mine, c = _derivative_output(function, z)
        converted |= c
        reference = activations.derivative(name, z)
        defined = z != 0 if name == "ReLU" else torch.ones_like(z, dtype=torch.bool)  # ReLU has no derivative at 0
        same = lambda a, b: torch.allclose(a[defined], b[defined], rtol=1e-5, atol=1e-6)  # noqa: E731
        if not same(mine, reference):
            match(mine, _derivative_mistakes(name, z), same)
            c = constant_factor(mine[defined], reference[defined])
            if c is not None:
                raise Mistake("off by a constant factor", f"your values are {c:.4g} times the derivative")
            i = int(((mine - reference).abs().nan_to_num(float("inf")) * defined).argmax())
            raise Mistake("not the derivative", f"at z = {z[i].item():.6g} your function returned "
                                                f"{mine[i].item():.6g}; the derivative there is "
                                                f"{reference[i].item():.6g}")
    z = _GRID
    mine = _derivative_output(function, z.clone())[0]
    tip = " (It returns NumPy values or another dtype; the notebook turns them into a tensor of z's dtype.)" \
        if converted else ""
    adapted = _in_dtype_of_z(function) if converted else None
    found = (f"equals {formula} at every point from −6 to 6 and at 208 more up to |z| = 30 and near 0 (largest "
             f"difference on the grid {(mine - activations.derivative(name, z))[z != 0].abs().max().item():.0e})")
    if name != "ReLU":
        return Verdict("done", found + "." + tip, adapted=adapted)
    at_zero = mine[z == 0].item()
    if at_zero not in (0.0, 1.0):
        raise Mistake("at z = 0", f"you return {at_zero:g}; ReLU has a corner there and no derivative: return 0 "
                                  "(PyTorch's choice) or 1")
    note = "0, as PyTorch does" if at_zero == 0 else "1; PyTorch uses 0, and both are fine: ReLU has no derivative there"
    return Verdict("done", f"{found}; at z = 0 you return {note}.{tip}", adapted=adapted)


# ----------------------------------------------------------------------------- collapse (§1)

def _weight_and_bias(result: Any, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(W, b, whether they had to be converted to tensors) from what the student returned, or the Mistake."""
    if isinstance(result, nn.Module):
        raise Mistake("returned a layer", "the exercise asks for the two tensors W and b that such a layer would hold")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mistake("return (W, b)", f"your function returned {type(result).__name__}; return two tensors: W, b")
    converted = not all(isinstance(t, torch.Tensor) for t in result)
    try:
        W, b = (torch.as_tensor(t) if not isinstance(t, torch.Tensor) else t for t in result)
    except (TypeError, ValueError, RuntimeError):
        raise Mistake("W and b must be tensors", "compute them from the layers' `.weight` and `.bias`") from None
    if W.dtype != dtype or b.dtype != dtype:
        raise Mistake(f"W or b in {W.dtype if W.dtype != dtype else b.dtype}", f"the layers hold {dtype} numbers; a "
                      "lower precision rounds them (float32 keeps 7 digits), and notebook 01 compares to 1e-12: keep "
                      "the layers' dtype")
    return W.detach(), b.detach(), converted


def _as_tensors(function: Callable) -> Callable:
    """The student's collapse_two, returning tensors (a NumPy round trip returns arrays)."""
    @functools.wraps(function)
    def adapted(first: nn.Linear, second: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(torch.as_tensor(t) for t in function(first, second))
    return adapted


def _collapse_mistakes(first: nn.Linear, second: nn.Linear, W: torch.Tensor, b: torch.Tensor) -> None:
    """Raise the typical mistake behind a wrong W or b (layers 4 → 4 → 4, where every mistake still runs)."""
    W1, b1, W2, b2 = (t.detach() for t in (first.weight, first.bias, second.weight, second.bias))
    same = lambda a, c: a.shape == c.shape and torch.allclose(a, c, rtol=1e-6, atol=1e-9)  # noqa: E731
    if not same(W, W2 @ W1):
        match(W, [(W1 @ W2, "W₁W₂ in the wrong order", "x meets W₁ first: which matrix stands next to x?"),
                  ((W2 @ W1).T, "W transposed", "nn.Linear keeps its weight as [out, in], and so does W"),
                  (W2 * W1, "multiplied element by element", "`*` multiplies entry by entry, not as matrices")], same)
        raise Mistake("W is not the product of the two matrices", f"your W differs from it by up to "
                                                                  f"{(W - W2 @ W1).abs().max().item():.3g}")
    if not same(b, W2 @ b1 + b2):
        match(b, [(b2, "bias without b₁", "b₁ passes through the second layer too"),
                  (b1 + b2, "b₁ went around the second layer", "the second layer multiplies everything that reaches "
                                                               "it, b₁ included"),
                  (W2 @ b1, "forgot b₂", "the second layer adds its own bias"),
                  (W1 @ b2 + b1, "the biases in the wrong order", "which layer does b₁ pass through?")], same)
        raise Mistake("b is not the combined bias", f"your b differs from it by up to "
                                                    f"{(b - W2 @ b1 - b2).abs().max().item():.3g}")


def _diagnose_collapse(_name: str, function: Callable) -> Verdict:
    """second(first(x)) = x @ W.T + b? On 4 → 4 → 4 layers (diagnosis), then on 5 → 4 → 3 (shapes)."""
    gaps, converted = [], False
    for sizes, seed in (((4, 4, 4), 11), ((5, 4, 3), 12)):
        net = build_mlp(None, seed, hidden=sizes[1:2], in_features=sizes[0], out_features=sizes[2]).double()
        first, second = net.linears()
        W, b, c = _weight_and_bias(call(function, first, second), first.weight.dtype)
        converted |= c
        if W.shape != (sizes[2], sizes[0]) or b.shape != (sizes[2],):
            raise Mistake("wrong shapes", f"for layers {sizes[0]} → {sizes[1]} → {sizes[2]}, W must be "
                                          f"{sizes[2]} × {sizes[0]} and b have {sizes[2]} entries; yours are "
                                          f"{list(W.shape)} and {list(b.shape)}")
        _collapse_mistakes(first, second, W, b)
        x = torch.randn(100, sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            gaps.append((second(first(x)) - (x @ W.T + b)).abs().max().item())
    tip = " (It returns NumPy arrays; the notebook turns them into tensors.)" if converted else ""
    return Verdict("done", f"second(first(x)) = x @ W.T + b for 100 random inputs x, for layers 4 → 4 → 4 and "
                           f"5 → 4 → 3 (W is 3 × 5 there); largest difference {max(gaps):.0e}.{tip}",
                   adapted=_as_tensors(function) if converted else None)


_EXERCISES = (  # notebook 01's exercises, for the registry ``helpers.exercises.EXERCISES``
    Exercise("derivatives", "01", "σ′, tanh′ and ReLU′", tuple(_DERIVATIVE_OF),
             tuple(functools.partial(activations.derivative, n) for n in _DERIVATIVE_OF.values()),
             "`helpers.activations.DERIVATIVES`",
             ("The closed forms above write σ′ and tanh′ with the activation's own output a = f(z): compute a "
              "first (`torch.sigmoid`, `torch.tanh`), then the formula, element by element — no loop needed.",
              "ReLU′ is a step: a comparison of z with 0 gives True/False, and a derivative is a number in z's dtype.",
              "σ′ = σ(1 − σ): `a * (1 - a)`; tanh′ = 1 − tanh²: `1 - a ** 2`; ReLU′: `(z > 0).to(z.dtype)`."),
             _diagnose_derivative),
    Exercise("collapse", "01", "two Linear layers collapsed into one", ("collapse_two",), (theory.collapse_two,),
             "`helpers.theory.collapse_two`, which `theory.collapse` applies layer by layer",
             ("Write out second(first(x)) = W₂(W₁x + b₁) + b₂ and multiply out the bracket.",
              "A Linear layer keeps its matrix in `.weight` ([out, in]) and its bias in `.bias`; `@` multiplies matrices.",
              "W = W₂W₁ (the second layer's matrix on the left) and b = W₂b₁ + b₂."),
             _diagnose_collapse),
)
