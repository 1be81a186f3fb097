""""Your turn" exercises: you write a small function, and a check answers at once.

In a notebook (``from helpers import exercises as check``)::

    # Your turn: grad_norm
    def grad_norm(model):
        ...

    grad_norm = check.grad_norm(grad_norm)

The check runs your function on real inputs (small networks, tensors from a fixed generator) against the
reference and shows, as a widget, ✓ with what it measured, or what is wrong: typical mistakes get a message of
their own.  A "Show a hint" button reveals hints one at a time.  The check never raises: it returns your
function when it is right, and otherwise (an unfilled stub, a wrong answer, an error) the library's reference,
so the notebook goes on.  Each exercise's status is saved with your viva answers, and the hand-in lists them.
``predict`` / ``prediction_result`` ask for a prediction before a measurement.

One module per notebook holds its exercises' diagnoses, typical mistakes and hints: ``notebook01.py``,
``notebook02.py``, ``notebook03.py``, ``notebook05.py``.  References live once: the library's own functions
where it has them, else ``helpers/solutions.py``; ``python -m tools.notebooks --solutions OUTDIR`` writes
instructor copies with them filled in.  The machinery (running a check, its widgets) is ``_machinery/checking.py``.
"""

from __future__ import annotations

from typing import Any, Callable

from .._machinery import checking
from .._machinery.checking import predict, prediction_result
from . import notebook01, notebook02, notebook03, notebook05

__all__ = ["EXERCISES", "collapse", "correct_predictions", "deep_mlp", "derivatives", "grad_norm", "predict",
           "prediction_result", "run_check", "solution", "training_step"]

# The registry (tools/notebooks.py and the hand-in read it), in notebook order.
EXERCISES: dict[str, checking.Exercise] = {
    e.name: e for module in (notebook01, notebook02, notebook03, notebook05) for e in module._EXERCISES}


def run_check(name: str, *functions: Callable, answers_path: Any = None, show: bool = True) -> checking.Checked:
    """Check the function(s) of exercise ``name`` (every check below): show the verdict, save the status; the (every check of notebooks 01-05)
    result holds what the notebook goes on with (``.functions``), the verdicts and the widgets."""
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
    """Check grad_norm(model) -> float, the global L2 norm of all parameters' gradients (notebook 02 §5)."""
    return run_check("grad_norm", grad_norm, answers_path=answers_path).functions[0]


def training_step(training_step: Callable, *, answers_path: Any = None) -> Callable:
    """Check training_step(model, images, labels, optimizer, criterion) -> (loss, norm, outputs) (notebook 03 §3)."""
    return run_check("training_step", training_step, answers_path=answers_path).functions[0]


def correct_predictions(correct_predictions: Callable, *, answers_path: Any = None) -> Callable:
    """Check correct_predictions(outputs, labels) -> int, the right predictions in a batch (notebook 03 §3)."""
    return run_check("correct_predictions", correct_predictions, answers_path=answers_path).functions[0]


def deep_mlp(deep_mlp: Callable, *, answers_path: Any = None) -> Callable:
    """Check deep_mlp(activation, depth, width) -> nn.Module: Flatten, depth × (Linear, activation), Linear to 10 (notebook 05)
    (notebook 05 §3)."""
    return run_check("deep_mlp", deep_mlp, answers_path=answers_path).functions[0]


def solution(name: str, function: str) -> tuple[tuple[str, ...], str]:
    """The reference of one exercise's function as (parameter names, body source), for instructors' copies (instructor copies: python -m tools.notebooks --solutions)
    (``python -m tools.notebooks --solutions``)."""
    exercise = EXERCISES[name]
    if exercise.solution is not None:
        return exercise.solution(function)
    return checking.function_body(exercise.references[exercise.functions.index(function)], f"{name}.{function}")
