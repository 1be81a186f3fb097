""""Your turn" exercises: you write a small function, and a check answers at once.

In a notebook (``from helpers import exercises as check``)::

    # Your turn: grad_norm
    def grad_norm(model):
        ...

    grad_norm = check.grad_norm(grad_norm)

The check runs your function on real inputs (small networks, tensors from a fixed generator) against
the reference and shows, as a widget, ✓ with what it measured, or what is wrong: typical mistakes get
a message of their own.  A "Show a hint" button reveals hints one at a time.  The check never raises:
it returns your function when it is right, and otherwise (an unfilled stub, a wrong answer, an error)
the library's reference, so the notebook goes on.  Each exercise's status is saved in the viva answers
file (key ``exercise:<name>``: "done", "not done yet" or "tried: <what was wrong>"), and the hand-in
export lists them.  ``predict`` / ``prediction_result`` ask for a prediction before a measurement.

References live once: the library's own functions where it has them, else ``helpers/solutions.py``.
``python -m tools.notebooks --solutions OUTDIR`` writes instructor copies with them filled in.
"""

from __future__ import annotations

import ast
import copy
import html
import inspect
import math
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import model as model_module
from . import practical, solutions, theory
from .model import MLP, activation_name, build_mlp
from .train import global_grad_norm
from .viva import AnswerStore, markdown_widget, show_markdown

if TYPE_CHECKING:  # imported lazily at run time: the export needs no widgets
    import ipywidgets

NOT_DONE = "not done yet"
DONE = "done"


# ----------------------------------------------------------------------------- verdicts

class Verdict(NamedTuple):
    """What a check found for one function: state "done", "stub" or "wrong", a Markdown message, a summary."""

    state: str
    message: str
    summary: str = ""


class _NotDone(Exception):
    """The function is still a stub (``...``, ``None`` or ``NotImplementedError``)."""


class _Mistake(Exception):
    """A diagnosed mistake: ``summary`` (a few words, saved) and ``detail`` (what to do, shown)."""

    def __init__(self, summary: str, detail: str):
        super().__init__(summary)
        self.verdict = Verdict("wrong", f"**{summary[:1].upper() + summary[1:]}** — {detail}", summary)


def _call(function: Callable, *args: Any) -> Any:
    """The student's function applied to ``args``; a stub raises ``_NotDone``."""
    try:
        result = function(*args)
    except NotImplementedError:
        raise _NotDone("") from None
    if result is None or result is Ellipsis:
        raise _NotDone("returned None: if you wrote it, did you forget `return`?" if result is None else "")
    return result


def _judge(diagnose: Callable[[str, Callable], Verdict], name: str, function: Callable) -> Verdict:
    """Run one diagnosis; whatever the student's function does, return a Verdict (never raise)."""
    try:
        return diagnose(name, function)
    except _NotDone as stub:
        return Verdict("stub", str(stub))
    except _Mistake as mistake:
        return mistake.verdict
    except Exception as err:  # the student's code raised: say what, never crash the notebook
        text = textwrap.shorten(f"{type(err).__name__}: {err}", 300)
        return Verdict("wrong", f"**Your function raised an error:** `{text}`", f"raised {type(err).__name__}")


def _close(a: float, b: float, rel: float = 1e-5) -> bool:
    """a ≈ b, relative to their size (float32 rounding passes)."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def _number(value: Any, what: str, kind: type = float) -> float:
    """``value`` as a Python number, or a _Mistake saying what was returned instead."""
    if isinstance(value, torch.Tensor):
        raise _Mistake(f"{what} is a tensor", f"your function returned `{value!r:.60}`; `.item()` turns a one-element "
                                              f"tensor into a Python {kind.__name__}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Mistake(f"{what} is not a number", f"your function returned a {type(value).__name__}")
    return float(value)


def _match(value: Any, candidates: Sequence[tuple[Any, str, str]], same: Callable[[Any, Any], bool]) -> None:
    """Raise the _Mistake of the first typical wrong answer that ``value`` equals."""
    for wrong, summary, detail in candidates:
        if wrong is not None and same(value, wrong):
            raise _Mistake(summary, detail)


def _constant_factor(mine: torch.Tensor, reference: torch.Tensor) -> float | None:
    """c ≠ 1 if mine = c × reference everywhere (a constant factor too many or too few), else None."""
    big = reference.abs() > 1e-3
    if not big.any():
        return None
    c = (mine[big] / reference[big]).median().item()
    if abs(c - 1) > 1e-3 and torch.allclose(mine, c * reference, rtol=1e-4, atol=1e-6):
        return c
    return None


# ----------------------------------------------------------------------------- derivatives (notebook 01)

DERIVATIVE_OF = {"sigmoid_derivative": "Sigmoid", "tanh_derivative": "Tanh", "relu_derivative": "ReLU"}
FORMULA = {"Sigmoid": "σ(z)(1 − σ(z))", "Tanh": "1 − tanh²(z)", "ReLU": "the step (1 for z > 0, 0 for z < 0)"}
GRID = torch.arange(-600, 601, dtype=torch.float64) / 100  # -6.00 ... 6.00, with 0 exactly


def _derivative_mistakes(name: str, z: torch.Tensor) -> list[tuple[torch.Tensor, str, str]]:
    """(what a typical wrong answer returns, its summary, what to do) for one activation's derivative."""
    f = theory.activation_values(name, z)
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
    out = _call(function, z)
    if not torch.equal(z, original):
        raise _Mistake("changed its input", "your function changed z in place (e.g. `z.sigmoid_()`); compute a new tensor")
    if not isinstance(out, torch.Tensor):
        raise _Mistake("not a tensor", f"your function returned a {type(out).__name__}; use torch functions on z")
    if out.shape != z.shape:
        raise _Mistake("wrong shape", f"for z of shape {list(z.shape)} your function returned shape {list(out.shape)}; "
                                      "the derivative is taken element by element, so it has z's shape")
    if not out.is_floating_point():
        raise _Mistake(f"values of type {out.dtype}", "a derivative is a number: convert with `.to(z.dtype)`")
    return out.detach().to(torch.float64)


def _diagnose_derivative(function_name: str, function: Callable) -> Verdict:
    """Compare one derivative with the closed form on -6 ... 6 and on a [3, 4] float32 tensor."""
    name = DERIVATIVE_OF[function_name]
    _derivative_output(function, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))  # shape, dtype
    z = GRID.clone()
    mine, reference = _derivative_output(function, z), theory.CLOSED_FORM_DERIVATIVE[name](z)
    defined = z != 0 if name == "ReLU" else torch.ones_like(z, dtype=torch.bool)  # ReLU has no derivative at 0
    same = lambda a, b: torch.allclose(a[defined], b[defined], rtol=1e-5, atol=1e-6)  # noqa: E731
    if not same(mine, reference):
        _match(mine, _derivative_mistakes(name, z), same)
        c = _constant_factor(mine[defined], reference[defined])
        if c is not None:
            raise _Mistake("off by a constant factor", f"your values are {c:.4g} × {FORMULA[name]}")
        i = int(((mine - reference).abs() * defined).argmax())
        raise _Mistake("not the derivative", f"at z = {z[i].item():g} you return {mine[i].item():.4g}; "
                                             f"{FORMULA[name]} is {reference[i].item():.4g} there")
    gap = (mine - reference)[defined].abs().max().item()
    found = f"equals {FORMULA[name]} at all {int(defined.sum())} points from −6 to 6 " \
            f"(largest difference {gap:.0e})"
    if name != "ReLU":
        return Verdict("done", found + ".")
    at_zero = mine[z == 0].item()
    if at_zero not in (0.0, 1.0):
        raise _Mistake("at z = 0", f"you return {at_zero:g}; ReLU has a corner there and no derivative: return 0 "
                                   "(PyTorch's choice) or 1")
    note = "0, as PyTorch does" if at_zero == 0 else "1; PyTorch uses 0, and both are fine: ReLU has no derivative there"
    return Verdict("done", f"{found}; at z = 0 you return {note}.")


def _derivative_solution(function_name: str) -> tuple[tuple[str, ...], str]:
    """(parameters, body) for an instructor's copy, written from the formula in ``model.DERIVATIVES``."""
    name = DERIVATIVE_OF[function_name]
    source = inspect.getsource(model_module)
    table = next(n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.AnnAssign)
                 and getattr(n.target, "id", "") == "DERIVATIVES")
    lam = next(v for k, v in zip(table.keys, table.values) if getattr(k, "value", None) == name)
    expression = ast.get_source_segment(source, lam.body)
    line = source.splitlines()[lam.lineno - 1]
    comment = "  # " + line.split("#", 1)[1].strip() if "#" in line else ""
    uses_output = any(isinstance(n, ast.Name) and n.id == "a" for n in ast.walk(lam.body))
    body = [f"a = torch.{name.lower()}(z)  # the activation's output a = f(z)"] if uses_output else []
    return ("z",), "\n".join(body + [f"return {expression}{comment}"])


# ----------------------------------------------------------------------------- collapse (notebook 01)

def _weight_and_bias(result: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) from what the student returned, or a _Mistake saying what it is instead."""
    if isinstance(result, nn.Linear):
        raise _Mistake("returned a layer", "return the two tensors, `return W, b`, not an nn.Linear")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise _Mistake("return (W, b)", f"your function returned {type(result).__name__}; return two tensors: W, b")
    if not all(isinstance(t, torch.Tensor) for t in result):
        raise _Mistake("W and b must be tensors", "compute them from `first.weight`, `first.bias`, ... with `@` and `+`")
    return tuple(t.detach().to(torch.float64) for t in result)


def _collapse_mistakes(first: nn.Linear, second: nn.Linear, W: torch.Tensor, b: torch.Tensor) -> None:
    """Raise the typical mistake behind a wrong W or b (layers 4 → 4 → 4, where every mistake still runs)."""
    W1, b1, W2, b2 = (t.detach() for t in (first.weight, first.bias, second.weight, second.bias))
    same = lambda a, c: a.shape == c.shape and torch.allclose(a, c, rtol=1e-6, atol=1e-9)  # noqa: E731
    if not same(W, W2 @ W1):
        _match(W, [(W1 @ W2, "W₁W₂ in the wrong order", "x meets W₁ first, so W₁ stands next to x: W = W₂W₁"),
                   ((W2 @ W1).T, "W transposed", "nn.Linear keeps its weight as [out, in]; W = W₂W₁ already is"),
                   (W2 * W1, "multiplied element by element", "`*` multiplies entry by entry; the product is `@`")], same)
        raise _Mistake("W is not W₂W₁", f"your W differs from W₂W₁ by up to {(W - W2 @ W1).abs().max().item():.3g}")
    if not same(b, W2 @ b1 + b2):
        _match(b, [(b2, "bias without W₂b₁", "b₁ passes through the second layer too: b = W₂b₁ + b₂"),
                   (b1 + b2, "forgot W₂ in front of b₁ (b₁ + b₂)", "the second layer multiplies b₁ by W₂: b = W₂b₁ + b₂"),
                   (W2 @ b1, "forgot + b₂", "the second layer adds its own bias: b = W₂b₁ + b₂"),
                   (W1 @ b2 + b1, "the biases in the wrong order", "b = W₂b₁ + b₂")], same)
        raise _Mistake("b is not W₂b₁ + b₂", f"your b differs by up to {(b - W2 @ b1 - b2).abs().max().item():.3g}")


def _diagnose_collapse(_name: str, function: Callable) -> Verdict:
    """second(first(x)) = x @ W.T + b? On 4 → 4 → 4 layers (diagnosis), then on 5 → 4 → 3 (shapes)."""
    gaps = []
    for sizes, seed in (((4, 4, 4), 11), ((5, 4, 3), 12)):
        first, second = theory.linear_stack(sizes, seed=seed)
        W, b = _weight_and_bias(_call(function, first, second))
        if W.shape != (sizes[2], sizes[0]) or b.shape != (sizes[2],):
            raise _Mistake("wrong shapes", f"for layers {sizes[0]} → {sizes[1]} → {sizes[2]}, W must be "
                                           f"{sizes[2]} × {sizes[0]} and b have {sizes[2]} entries; yours are "
                                           f"{list(W.shape)} and {list(b.shape)}")
        _collapse_mistakes(first, second, W, b)
        x = torch.randn(100, sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            gaps.append((second(first(x)) - (x @ W.T + b)).abs().max().item())
    return Verdict("done", f"second(first(x)) = x @ W.T + b for 100 random inputs x, for layers 4 → 4 → 4 and "
                           f"5 → 4 → 3 (W is 3 × 5 there); largest difference {max(gaps):.0e}.")


# ----------------------------------------------------------------------------- grad_norm (notebook 02)

def _model_with_gradients(seed: int = 3) -> nn.Module:
    """A 12 → 16 → 8 → 10 Tanh MLP after one backward pass on 32 random inputs (fixed seeds)."""
    model = build_mlp("Tanh", seed=seed, hidden=(16, 8), in_features=12)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(32, 12, generator=g), torch.randint(0, 10, (32,), generator=g)
    F.cross_entropy(model(x), y).backward()
    return model


def _diagnose_grad_norm(_name: str, function: Callable) -> Verdict:
    """The global L2 norm over every parameter's gradient, against ``train.global_grad_norm``."""
    model = _model_with_gradients()
    before = [p.grad.clone() for p in model.parameters()]
    value = _call(function, model)
    if any(not torch.equal(p.grad, g) for p, g in zip(model.parameters(), before)):
        raise _Mistake("changed the gradients", "only read `.grad` (`clip_grad_norm_` with a finite max_norm scales them)")
    tip = ""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value, tip = value.item(), " (Tip: `.item()` would return a Python float instead of a tensor.)"
    value, reference = _number(value, "the norm"), global_grad_norm(model)
    if _close(value, reference):
        return Verdict("done", f"your norm {value:.4f} = the reference {reference:.4f} (a 12 → 16 → 8 → 10 MLP, "
                               f"6 parameter tensors).{tip}")
    norms = [p.grad.norm().item() for p in model.parameters()]
    weights = [p.grad.norm().item() for n, p in model.named_parameters() if n.endswith("weight")]
    _match(value, [(sum(n * n for n in norms), "missing square root", "you returned the sum of the squares: take its "
                    "square root at the end, `total ** 0.5`"),
                   (sum(norms), "summed norms instead of squares", "the global norm is √(Σ‖g‖²), not Σ‖g‖: square "
                    "each tensor's norm before adding"),
                   (math.sqrt(sum(n * n for n in weights)), "only the weights: forgot the biases",
                    "`model.parameters()` gives every weight matrix and every bias vector; use them all"),
                   (norms[-1], "only the last tensor", "`total = ...` instead of `total += ...` inside the loop?"),
                   (math.sqrt(sum(n * n for n in norms) / len(norms)), "averaged instead of summed",
                    "add the squares up; do not divide by the number of tensors")], lambda a, b: _close(a, b, 1e-4))
    other = _model_with_gradients(seed=4)  # a constant factor gives the same ratio on another network
    c = value / reference if reference else 0.0
    if c and abs(c - 1) > 1e-3 and _close(float(_call(function, other)), c * global_grad_norm(other), 1e-4):
        raise _Mistake("off by a constant factor", f"your norm {value:.4f} is {c:.4g} × the reference {reference:.4f}")
    raise _Mistake("not the global norm", f"your norm {value:.4f}, the reference {reference:.4f}")


# ----------------------------------------------------------------------------- training_step (notebook 03)

def _step_inputs() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small Tanh MLP (784 → 32 → 10) and one batch of 16 MNIST-shaped images [16, 1, 28, 28] with labels."""
    g = torch.Generator().manual_seed(5)
    images, labels = torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    return build_mlp("Tanh", seed=5, hidden=(32,)), images, labels


def _two_steps(step: Callable, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[tuple]:
    """Call ``step`` twice on the same batch (fresh Adam, lr 1e-3); each call's result and the weights after it."""
    optimizer, criterion = torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    runs = []
    for _ in range(2):
        result = _call(step, model, images, labels, optimizer, criterion)
        runs.append((result, {n: p.detach().clone() for n, p in model.named_parameters()}))
    return runs


def _step_result(result: Any) -> tuple[float, float, torch.Tensor]:
    """(loss, norm, outputs) from what the student returned, or the _Mistake in its form."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise _Mistake("return three things", "`return loss.item(), norm, outputs`")
    loss, norm, outputs = result
    if isinstance(loss, torch.Tensor):
        raise _Mistake("the loss is a tensor", "return `loss.item()`: a Python float (the tensor would keep the "
                                               "whole computation graph of the step alive)")
    if not isinstance(outputs, torch.Tensor):
        raise _Mistake("outputs is not a tensor", "return the outputs of `model(images)` as the third value")
    return _number(loss, "the loss"), _number(norm, "the norm"), outputs.detach()


def _compare_step(call: int, got: tuple, want: tuple, moved: bool, outputs_after: torch.Tensor) -> None:
    """Raise the _Mistake that explains how call ``call`` of the student's step differs from the reference's."""
    loss, norm, outputs = _step_result(got)
    r_loss, r_norm, r_outputs = want
    if call == 1 and not moved:
        raise _Mistake("forgot optimizer.step()", "the weights did not change (or `zero_grad()` between `backward()` "
                                                  "and `step()` left the optimizer nothing to use)")
    if _close(loss, r_norm) and _close(norm, r_loss) and not _close(loss, r_loss):
        raise _Mistake("loss and norm swapped", "return them in the order (loss, norm, outputs)")
    if not _close(loss, r_loss):
        raise _Mistake("not this batch's loss", f"yours {loss:.4f}, the reference {r_loss:.4f}: "
                                                "`criterion(outputs, labels)` with `outputs = model(images)`")
    if call == 1 and norm == 0:
        raise _Mistake("the norm is 0", "measure it after `loss.backward()` (and not after a `zero_grad()`), before "
                                        "the step")
    if not _close(norm, r_norm) and call == 2:
        raise _Mistake("forgot optimizer.zero_grad(): gradients accumulate",
                       f"on a second call on the same batch your norm was {norm:.4f}, the reference {r_norm:.4f}: the "
                       "first call's gradients were still in `.grad` and the new ones were added to them. Call "
                       "`optimizer.zero_grad()` at the start of the step")
    if not _close(norm, r_norm):
        raise _Mistake("not this step's gradient norm", f"yours {norm:.4f}, the reference {r_norm:.4f}")
    if outputs.shape == r_outputs.shape and torch.allclose(outputs, outputs_after, atol=1e-6) \
            and not torch.allclose(outputs, r_outputs, atol=1e-6):
        raise _Mistake("outputs after the step", "return the outputs of this step's forward pass, before `step()`")
    if outputs.shape != r_outputs.shape or not torch.allclose(outputs, r_outputs, rtol=1e-4, atol=1e-6):
        raise _Mistake("not this batch's outputs", f"return `outputs = model(images)` ({list(r_outputs.shape)})")


def _diagnose_training_step(_name: str, function: Callable) -> Verdict:
    """Two calls on the same batch, against ``practical.training_step`` from the same weights."""
    model, images, labels = _step_inputs()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    reference_model = copy.deepcopy(model)
    reference = _two_steps(practical.training_step, reference_model, images, labels)
    mine = _two_steps(function, model, images, labels)
    for call, ((got, weights), (want, ref_weights)) in enumerate(zip(mine, reference), 1):
        moved = any(not torch.equal(weights[n], start[n]) for n in start)
        with torch.no_grad():
            after = torch.func.functional_call(reference_model, ref_weights, (images,))
        _compare_step(call, got, (want[0], want[1], want[2].detach()), moved, after)
        if not all(torch.allclose(weights[n], ref_weights[n], rtol=1e-4, atol=1e-7) for n in start):
            raise _Mistake("the weights moved differently", "one `optimizer.step()` per call, after `backward()`")
    (l1, n1, _), (l2, n2, _) = (r for r, _ in reference)
    return Verdict("done", f"two steps on the same batch of 16 images, from the same weights as "
                           f"`helpers.practical.training_step`: loss {l1:.4f} → {l2:.4f}, gradient norm "
                           f"{n1:.4f} → {n2:.4f}, outputs and updated weights all equal.")


# ----------------------------------------------------------------------------- correct_predictions (notebook 03)

def _scored_batch(n: int, right: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random outputs [n, 10] and labels of which exactly ``right`` match the largest output."""
    g = torch.Generator().manual_seed(seed)
    outputs = torch.randn(n, 10, generator=g)
    labels = outputs.argmax(dim=1)
    shift = torch.randint(1, 10, (n - right,), generator=g)
    labels[right:] = (labels[right:] + shift) % 10  # the last n - right labels are wrong
    return outputs, labels


def _diagnose_correct_predictions(_name: str, function: Callable) -> Verdict:
    """Count the right predictions of a 10 × 10 batch (so argmax over dim 0 still runs) and a 64 × 10 one."""
    for n, right, seed in ((10, 4, 1), (64, 23, 2)):
        outputs, labels = _scored_batch(n, right, seed)
        value = _call(function, outputs.clone(), labels.clone())
        if isinstance(value, torch.Tensor):
            raise _Mistake("returned a tensor", f"your function returned `{value!r:.40}`; `.item()` gives a Python int")
        value = _number(value, "the count", int)
        if value == right:
            continue
        dim0 = (outputs.argmax(dim=0) == labels).sum().item() if n == 10 else None
        _match(value, [(right / n, "returned a fraction instead of a count", f"{value:g} is the share of right "
                        f"predictions; the check wants how many: {right} of {n}. Drop the division"),
                       (dim0, "argmax over the wrong dimension", "outputs is [batch, 10]: the classes run along "
                        "dim=1, so `outputs.argmax(dim=1)` picks one class per image"),
                       (n - right, "counted the wrong predictions", "count where the predicted class equals the label")],
               lambda a, b: _close(a, b, 1e-6))
        raise _Mistake("not the count", f"a batch of {n} with {right} right predictions: you return {value:g}")
    return Verdict("done", "4 right of a batch of 10 and 23 right of a batch of 64: the same counts as "
                           "`helpers.practical.correct_predictions`.")


# ----------------------------------------------------------------------------- deep_mlp (notebook 05)

def _describe(model: nn.Module) -> list[str]:
    """The network's layers in order, e.g. ["Flatten", "Linear(784 → 16)", "Tanh", ...]."""
    leaves = [m for m in model.modules() if not list(m.children())]
    return [f"Linear({m.in_features} → {m.out_features})" if isinstance(m, nn.Linear) else type(m).__name__
            for m in leaves]


def _structure_mistake(mine: list[str], want: list[str], activation: str, depth: int) -> _Mistake:
    """The _Mistake that explains how the layers ``mine`` differ from the layers ``want``."""
    linears = sum(layer.startswith("Linear") for layer in mine)
    acts = {layer for layer in mine if not layer.startswith("Linear") and layer != "Flatten"}
    if mine[:-1] == want and not mine[-1].startswith("Linear"):
        return _Mistake("activation after the output layer", "the last Linear gives the 10 class scores (logits); "
                                                            "CrossEntropyLoss wants them raw: no activation after it")
    if "Flatten" not in mine and mine == want[1:]:
        return _Mistake("no Flatten: fails on [N, 1, 28, 28] images", "a Linear layer reads [N, 784]: start with "
                                                                      "`nn.Flatten()`")
    if linears in (depth, depth + 2):
        return _Mistake(f"one hidden layer too {'many' if linears > depth + 1 else 'few'}",
                        f"{depth} hidden layers and the output layer make {depth + 1} Linear layers; yours has {linears}")
    if acts and acts != {activation_name(activation)}:
        return _Mistake("wrong activation", f"for {activation!r} the layers should be {activation_name(activation)}, "
                                            f"yours are {', '.join(sorted(acts))}: use `make_activation(activation)`")
    if "Flatten" not in mine:
        return _Mistake("no Flatten: fails on [N, 1, 28, 28] images", f"start with `nn.Flatten()`; expected "
                                                                      f"{' → '.join(want)}, yours: {' → '.join(mine)}")
    return _Mistake("not the expected layers", f"expected {' → '.join(want)}; yours: {' → '.join(mine)}")


def _diagnose_deep_mlp(_name: str, function: Callable) -> Verdict:
    """Same layers, in the same order, as ``MLP(activation, hidden=(width,) * depth)``; maps images to 10 scores."""
    layers = []
    for activation, depth, width in (("Tanh", 3, 16), ("relu", 1, 8)):
        model = _call(function, activation, depth, width)
        if isinstance(model, (list, tuple)):
            raise _Mistake("returned a list of layers", "wrap them into one module: `nn.Sequential(*layers)`")
        if not isinstance(model, nn.Module):
            raise _Mistake("not a network", f"your function returned a {type(model).__name__}; return an nn.Module")
        mine, want = _describe(model), _describe(MLP(activation, hidden=(width,) * depth))
        if mine != want:
            raise _structure_mistake(mine, want, activation, depth)
        with torch.no_grad():
            shape = tuple(model(torch.zeros(2, 1, 28, 28)).shape)
        if shape != (2, 10):
            raise _Mistake("wrong output shape", f"a batch of 2 images gives {list(shape)}, not [2, 10]")
        layers.append(mine)
    return Verdict("done", f"`deep_mlp('Tanh', 3, 16)` is {' → '.join(layers[0])}, "
                           f"the layers of `MLP('Tanh', hidden=(16, 16, 16))`, and maps a [2, 1, 28, 28] batch to "
                           f"[2, 10]; `deep_mlp('relu', 1, 8)` is right too.")


# ----------------------------------------------------------------------------- the registry

@dataclass(frozen=True)
class Exercise:
    """One exercise: its notebook, what the student writes, the reference, hints and the diagnosis."""

    name: str
    notebook: str
    title: str
    functions: tuple[str, ...]  # the names the stub defines, in the order the check takes them
    references: tuple[Callable, ...]  # one per function: what the notebook uses when the student's is not right
    library: str  # where the reference lives (Markdown), for the messages
    hints: tuple[str, ...]
    diagnose: Callable[[str, Callable], Verdict]
    solution: Callable[[str], tuple[tuple[str, ...], str]] | None = field(default=None, repr=False)


EXERCISES: dict[str, Exercise] = {e.name: e for e in [
    Exercise("derivatives", "01", "σ′, tanh′ and ReLU′", tuple(DERIVATIVE_OF),
             tuple(theory.CLOSED_FORM_DERIVATIVE[n] for n in DERIVATIVE_OF.values()), "`helpers.model.DERIVATIVES`",
             ("Write each derivative with the activation's output: first `a = torch.sigmoid(z)` (or `torch.tanh(z)`).",
              "σ′ = σ(1 − σ) and tanh′ = 1 − tanh²: element by element with `*` and `**`, no loop needed.",
              "ReLU′ is a step: `(z > 0)` gives True/False, `.to(z.dtype)` turns that into 1.0/0.0."),
             _diagnose_derivative, _derivative_solution),
    Exercise("collapse", "01", "two Linear layers collapsed into one", ("collapse_two",), (theory.collapse_two,),
             "`helpers.theory.collapse_two`, which `theory.collapse` applies layer by layer",
             ("Write out second(first(x)) = W₂(W₁x + b₁) + b₂ and multiply out the bracket.",
              "A Linear layer keeps its matrix in `.weight` ([out, in]) and its bias in `.bias`; `@` multiplies matrices.",
              "W = W₂W₁ (the second layer's matrix on the left) and b = W₂b₁ + b₂."),
             _diagnose_collapse),
    Exercise("grad_norm", "02", "the global gradient norm", ("grad_norm",), (global_grad_norm,),
             "`helpers.train.global_grad_norm`",
             ("Loop over `model.parameters()`; each parameter `p` has its gradient in `p.grad`, of its own shape.",
              "Add up the squared L2 norms, `p.grad.norm(2).item() ** 2`, of every tensor: weights and biases.",
              "Take the square root of the total at the end: `total ** 0.5`."),
             _diagnose_grad_norm),
    Exercise("training_step", "03", "one training step", ("training_step",), (practical.training_step,),
             "`helpers.practical.training_step`",
             ("The order: `optimizer.zero_grad()`, `outputs = model(images)`, `loss = criterion(outputs, labels)`, "
              "`loss.backward()`, the norm line, `optimizer.step()`.",
              "The norm is measured after `backward()` (the gradients exist) and before `step()`.",
              "Return `loss.item()` (a float, not the tensor), the norm, and the outputs."),
             _diagnose_training_step),
    Exercise("correct_predictions", "03", "counting the right predictions", ("correct_predictions",),
             (practical.correct_predictions,), "`helpers.practical.correct_predictions`",
             ("`outputs` is [batch, 10]: one score per class for each image; the prediction is the largest score.",
              "`outputs.argmax(dim=1)` gives one predicted class per image; compare it with `labels` using `==`.",
              "`.sum()` counts the True values and `.item()` turns the count into a Python int."),
             _diagnose_correct_predictions),
    Exercise("deep_mlp", "05", "a deep MLP from the registry", ("deep_mlp",), (solutions.deep_mlp,),
             "`helpers.solutions.deep_mlp`, the layers of `helpers.model.MLP`",
             ("Start a list with `nn.Flatten()`: it turns [N, 1, 28, 28] images into [N, 784].",
              "Add `depth` pairs `nn.Linear(n_in, width)`, `make_activation(activation)`; the first Linear reads 784 "
              "inputs, the others `width`.",
              "End with `nn.Linear(width, 10)`, with no activation after it, and return `nn.Sequential(*layers)`."),
             _diagnose_deep_mlp),
]}


def solution(name: str, function: str) -> tuple[tuple[str, ...], str]:
    """(parameter names, body source) of the reference for one function of an exercise (for instructor copies)."""
    exercise = EXERCISES[name]
    if exercise.solution is not None:
        return exercise.solution(function)
    source = textwrap.dedent(inspect.getsource(exercise.references[exercise.functions.index(function)]))
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise TypeError(f"the reference of {name}.{function} must be a def to be copied into a notebook")
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    lines = source.splitlines()[body[0].lineno - 1:node.end_lineno]
    return tuple(a.arg for a in node.args.args), textwrap.dedent("\n".join(lines))


# ----------------------------------------------------------------------------- running a check

@dataclass
class Checked:
    """The result of one check: what the notebook should use, the verdicts, and the widgets (for tests)."""

    name: str
    status: str
    functions: tuple[Callable, ...]
    verdicts: dict[str, Verdict]
    box: ipywidgets.VBox
    message: ipywidgets.Output
    hint_button: ipywidgets.Button
    hints: ipywidgets.Output
    note: ipywidgets.HTML
    hints_shown: int = 0


def _status(verdicts: Mapping[str, Verdict]) -> str:
    """"done", "not done yet" or "tried: <what was wrong>" for the answers file."""
    states = {v.state for v in verdicts.values()}
    if states == {"done"}:
        return DONE
    if states == {"stub"}:
        return NOT_DONE
    several = len(verdicts) > 1
    parts = [(f"{name}: " if several else "") + (v.summary if v.state == "wrong" else NOT_DONE)
             for name, v in verdicts.items() if v.state != "done"]
    return "tried: " + "; ".join(parts)


def _message(exercise: Exercise, verdicts: Mapping[str, Verdict]) -> str:
    """The widget's Markdown: one line per function, then what the notebook goes on with."""
    several = len(verdicts) > 1
    lines = [f"**Check: {exercise.title}**"]
    for name, v in verdicts.items():
        prefix = f"`{name}`: " if several else ""
        if v.state == "done":
            lines.append(f"✓ {prefix}{v.message}")
        elif v.state == "stub":
            why = f" (Your function {v.message})" if v.message else ""
            lines.append(f"{prefix}**Not done yet** — the notebook goes on with the library's version.{why}")
        else:
            lines.append(f"✗ {prefix}{v.message}")
    if any(v.state == "wrong" for v in verdicts.values()):
        lines.append(f"Not right yet, so the notebook goes on with the library's version ({exercise.library}). "
                     "Fix your function and run its cell and this one again.")
    return "\n\n".join(lines)


def _record(name: str, status: str, answers_path: Any) -> str:
    """Save the status in the answers file (only when it changed); the HTML of the note under the check."""
    try:
        store = AnswerStore(answers_path)
        key = f"exercise:{name}"
        if store.answers.get(key, NOT_DONE) == status:
            return ""
        error = store.save(key, status)
    except Exception as err:  # a path that cannot even be read: report, never crash the notebook
        error = str(err)
    if error:
        return f'<span style="color:#b00">⚠ The status was not saved: {html.escape(error)}.</span>'
    return f'<span style="color:#666">Saved in <code>{html.escape(store.path.name)}</code>: {html.escape(status)}.</span>'


def _widgets(message: str, note: str) -> tuple:
    """(box, message, hint button, hints, note) of one check; the button reveals the next hint."""
    import ipywidgets as w

    out, hints = markdown_widget(message), markdown_widget(None)
    button = w.Button(description="Show a hint", layout=w.Layout(width="auto"))
    note_html = w.HTML(value=note)
    box = w.VBox([out, button, hints, note_html], layout=w.Layout(width="100%"))
    return box, out, button, hints, note_html


def show_next_hint(checked: Checked) -> None:
    """Reveal one more hint (all shown: the button is disabled)."""
    hints = EXERCISES[checked.name].hints
    checked.hints_shown = min(checked.hints_shown + 1, len(hints))
    show_markdown(checked.hints, "\n\n".join(f"**Hint {i + 1}.** {h}" for i, h in enumerate(hints[:checked.hints_shown])))
    if checked.hints_shown == len(hints):
        checked.hint_button.disabled, checked.hint_button.description = True, "No more hints"


def run_check(name: str, *functions: Callable, answers_path: Any = None, show: bool = True) -> Checked:
    """Check the student's function(s) for exercise ``name``, show the verdict, save the status; never raises."""
    exercise = EXERCISES[name]
    if len(functions) != len(exercise.functions):
        raise TypeError(f"check.{name} takes {len(exercise.functions)} function(s): {', '.join(exercise.functions)}")
    verdicts = {fname: _judge(exercise.diagnose, fname, f) for fname, f in zip(exercise.functions, functions)}
    status = _status(verdicts)
    chosen = tuple(f if verdicts[fname].state == "done" else ref
                   for fname, f, ref in zip(exercise.functions, functions, exercise.references))
    parts = _widgets(_message(exercise, verdicts), _record(name, status, answers_path))
    checked = Checked(name, status, chosen, verdicts, *parts)
    checked.hint_button.on_click(lambda _button: show_next_hint(checked))
    if show:
        from IPython.display import display

        display(checked.box)
    return checked


def derivatives(sigmoid_derivative: Callable, tanh_derivative: Callable, relu_derivative: Callable, *,
                answers_path: Any = None) -> tuple[Callable, Callable, Callable]:
    """Check σ′, tanh′ and ReLU′ (tensor in, tensor out); returns yours where right, else the library's."""
    return run_check("derivatives", sigmoid_derivative, tanh_derivative, relu_derivative,
                     answers_path=answers_path).functions


def collapse(collapse_two: Callable, *, answers_path: Any = None) -> Callable:
    """Check collapse_two(first, second) -> (W, b) with second(first(x)) = x @ W.T + b."""
    return run_check("collapse", collapse_two, answers_path=answers_path).functions[0]


def grad_norm(grad_norm: Callable, *, answers_path: Any = None) -> Callable:
    """Check grad_norm(model) -> float, the global L2 norm of all parameters' gradients."""
    return run_check("grad_norm", grad_norm, answers_path=answers_path).functions[0]


def training_step(training_step: Callable, *, answers_path: Any = None) -> Callable:
    """Check training_step(model, images, labels, optimizer, criterion) -> (loss, norm, outputs)."""
    return run_check("training_step", training_step, answers_path=answers_path).functions[0]


def correct_predictions(correct_predictions: Callable, *, answers_path: Any = None) -> Callable:
    """Check correct_predictions(outputs, labels) -> int, the number of right predictions in a batch."""
    return run_check("correct_predictions", correct_predictions, answers_path=answers_path).functions[0]


def deep_mlp(deep_mlp: Callable, *, answers_path: Any = None) -> Callable:
    """Check deep_mlp(activation, depth, width) -> nn.Module: Flatten, depth × (Linear, activation), Linear to 10."""
    return run_check("deep_mlp", deep_mlp, answers_path=answers_path).functions[0]


# ----------------------------------------------------------------------------- predict, then run

_MEASURED: set[str] = set()  # ids whose measurement this session has already shown


def predict(id: str, question: str, choices: Sequence[str], answers_path: Any = None) -> ipywidgets.VBox:
    """RadioButtons and "Commit my prediction": the choice is saved and then locked (shown again on a re-run)."""
    import ipywidgets as w

    store, key = AnswerStore(answers_path), f"prediction:{id}"
    radio = w.RadioButtons(options=list(choices), value=None, layout=w.Layout(width="100%"))
    button = w.Button(description="Commit my prediction", layout=w.Layout(width="auto"))
    status = markdown_widget(None)

    def lock(choice: str, note: str) -> None:
        radio.value = choice if choice in radio.options else None
        radio.disabled = button.disabled = True
        show_markdown(status, f"Committed: **{choice}**. {note}")

    def on_commit(_button: Any) -> None:
        if radio.value is None:
            show_markdown(status, "Choose one first.")
            return
        late = id in _MEASURED
        errors = [store.save(key, radio.value), store.save(f"{key}:question", question)]
        if late:
            errors.append(store.save(f"{key}:note", "committed after the measurement was shown"))
        saved = "" if not any(errors) else f" ⚠ Not saved: {next(e for e in errors if e)}."
        lock(radio.value, ("(After the measurement was shown: noted as such.)" if late else
                           "Now run the measurement below.") + saved)

    button.on_click(on_commit)
    if key in store.answers:
        lock(store.answers[key], "Your prediction is saved; the measurement below says how it went.")
    box = w.VBox([markdown_widget(f"**Predict, then run:** {question}"), radio, button, status],
                 layout=w.Layout(width="100%"))
    box.radio, box.button, box.status, box.store = radio, button, status, store  # for code and tests
    return box


def prediction_result(id: str, measured_choice: str, explanation: str, answers_path: Any = None) -> ipywidgets.Output:
    """"You predicted …; the run measured …" (or that no prediction was committed), then the explanation."""
    _MEASURED.add(id)
    store, key = AnswerStore(answers_path), f"prediction:{id}"
    predicted = store.answers.get(key)
    if predicted is None:
        text = (f"You did not commit a prediction (fine when the notebook runs unattended). "
                f"The run measured: **{measured_choice}**.")
    else:
        verdict = "✓ as you predicted." if predicted == measured_choice else "✗ not what you predicted: see why below."
        text = f"You predicted **{predicted}**; the run measured **{measured_choice}** — {verdict}"
        if store.answers.get(f"{key}:measured") != measured_choice:
            store.save(f"{key}:measured", measured_choice)
    out = markdown_widget(f"{text}\n\n{explanation}")
    out.text = text  # for code and tests
    return out


# ----------------------------------------------------------------------------- the hand-in export

def export_lines(answers: Mapping[str, str]) -> list[str]:
    """The ``## Exercises`` section of the hand-in: every exercise with its status, then the predictions."""
    lines = ["", "## Exercises", "", "| notebook | exercise | status |", "| --- | --- | --- |"]
    lines += [f"| {e.notebook} | `{e.name}`: {e.title} | {(answers.get('exercise:' + e.name) or NOT_DONE).replace('|', '/')} |"
              for e in EXERCISES.values()]
    ids = [k.split(":", 1)[1] for k in answers if k.startswith("prediction:") and k.count(":") == 1]
    lines += ["", "**Predictions**", ""]
    for pid in ids:
        key = f"prediction:{pid}"
        measured = answers.get(f"{key}:measured")
        note = answers.get(f"{key}:note")
        lines.append(f"- `{pid}` — {answers.get(key + ':question', '')} You predicted “{answers[key]}”"
                     + (f"; the run measured “{measured}”" if measured else "; not measured yet")
                     + (f" ({note})" if note else "") + ".")
    if not ids:
        lines.append("_(no prediction committed)_")
    return lines


def exercises_done(answers: Mapping[str, str]) -> int:
    """How many exercises the answers file marks as done."""
    return sum(answers.get(f"exercise:{name}") == DONE for name in EXERCISES)
