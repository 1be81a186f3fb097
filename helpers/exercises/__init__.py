""""Your turn" exercises: you write a small function, and a check answers at once.

In a notebook (``from helpers import exercises as check``)::

    # Your turn: grad_norm
    def grad_norm(model):
        ...

    grad_norm = check.grad_norm(grad_norm)

The check runs your function on small fixed inputs and shows ✓ or what is wrong, with hints; it returns your
function when it is right, else the library's reference, so the notebook goes on.  Diagnoses and hints: one file
per notebook (``notebook01.py`` ...); the machinery: ``_machinery/checking.py``.
"""

from __future__ import annotations

from typing import Any, Callable

from .._machinery import checking
from .._machinery.checking import predict, prediction_result
from . import notebook01, notebook02, notebook03, notebook05

__all__ = ["EXERCISES", "collapse", "correct_predictions", "deep_mlp", "derivatives", "grad_norm", "predict",
           "prediction_result", "run_check", "training_step"]

# The registry (tools/notebooks.py and the hand-in read it), in notebook order.
EXERCISES: dict[str, checking.Exercise] = {
    e.name: e for module in (notebook01, notebook02, notebook03, notebook05) for e in module._EXERCISES}


def run_check(name: str, *functions: Callable, answers_path: Any = None, show: bool = True) -> checking.Checked:
    """Check the function(s) of exercise ``name`` (notebooks 01-05): show the verdict, save the status."""
    return checking.run_check(EXERCISES[name], *functions, answers_path=answers_path, show=show)


def derivatives(sigmoid_derivative: Callable, tanh_derivative: Callable, relu_derivative: Callable, *,
                answers_path: Any = None) -> tuple[Callable, Callable, Callable]:
    """Check σ′, tanh′ and ReLU′ (notebook 01 §3), tensor in, tensor out: yours where right, else the library's."""
    return run_check("derivatives", sigmoid_derivative, tanh_derivative, relu_derivative,
                     answers_path=answers_path).functions


def collapse(collapse_two: Callable, *, answers_path: Any = None) -> Callable:
    """Check collapse_two(first, second) -> (W, b) with second(first(x)) = x @ W.T + b (notebook 01 §1)."""
    return run_check("collapse", collapse_two, answers_path=answers_path).functions[0]


def grad_norm(grad_norm: Callable, *, answers_path: Any = None) -> Callable:
    """Check grad_norm(model) -> float, the global L2 norm of all parameters' gradients (notebook 02 §6)."""
    return run_check("grad_norm", grad_norm, answers_path=answers_path).functions[0]


def training_step(training_step: Callable, *, answers_path: Any = None) -> Callable:
    """Check training_step(model, images, labels, optimizer, criterion) -> (loss, norm, outputs) (notebook 03 §3)."""
    return run_check("training_step", training_step, answers_path=answers_path).functions[0]


def correct_predictions(correct_predictions: Callable, *, answers_path: Any = None) -> Callable:
    """Check correct_predictions(outputs, labels) -> int, the right predictions in a batch (notebook 03 §3)."""
    return run_check("correct_predictions", correct_predictions, answers_path=answers_path).functions[0]


def deep_mlp(deep_mlp: Callable, *, answers_path: Any = None) -> Callable:
    """Check deep_mlp(activation, depth, width): Flatten, depth × (Linear, activation), Linear to 10 (notebook 05)."""
    return run_check("deep_mlp", deep_mlp, answers_path=answers_path).functions[0]
