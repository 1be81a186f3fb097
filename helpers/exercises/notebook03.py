"""Notebook 03's exercises (§3): one training step, and counting the right predictions of a batch.

Each check runs the student's function and ``helpers.practical``'s on the same inputs; typical mistakes get a message.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn

from .. import practical
from .._machinery.checking import Exercise, Mistake, Verdict, call, close, match, number
from ..model import build_mlp


# ----------------------------------------------------------------------------- one training step

def _two_steps(step: Callable, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[tuple]:
    """Call ``step`` twice on the same batch (fresh Adam, lr 1e-3); each call's result and the weights after it."""
    optimizer, criterion = torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    runs = []
    for _ in range(2):
        result = call(step, model, images, labels, optimizer, criterion)
        runs.append((result, {n: p.detach().clone() for n, p in model.named_parameters()}))
    return runs


def _step_result(result: Any) -> tuple[float, float, torch.Tensor]:
    """(loss, norm, outputs) from what the student returned, or the Mistake in its form."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise Mistake("return three things", "`return loss.item(), norm, outputs`")
    loss, norm, outputs = result
    if isinstance(loss, torch.Tensor):
        raise Mistake("the loss is a tensor", "return `loss.item()`: a Python float (the tensor would keep the "
                                              "whole computation graph of the step alive)")
    if not isinstance(outputs, torch.Tensor):
        raise Mistake("outputs is not a tensor", "return the outputs of `model(images)` as the third value")
    return number(loss, "the loss"), number(norm, "the norm"), outputs.detach()


def _compare_step(which: int, got: tuple, want: tuple, moved: bool, outputs_after: torch.Tensor) -> None:
    """Raise the Mistake that explains how call ``which`` (1, 2) of the student's step differs from the reference's."""
    loss, norm, outputs = _step_result(got)
    r_loss, r_norm, r_outputs = want
    if which == 1 and not moved:
        raise Mistake("forgot optimizer.step()", "the weights did not change (or `zero_grad()` between `backward()` "
                                                 "and `step()` left the optimizer nothing to use)")
    if close(loss, r_norm) and close(norm, r_loss) and not close(loss, r_loss):
        raise Mistake("loss and norm swapped", "return them in the order (loss, norm, outputs)")
    if not close(loss, r_loss):
        raise Mistake("not this batch's loss", f"yours {loss:.4f}, the reference {r_loss:.4f}: "
                                               "`criterion(outputs, labels)` with `outputs = model(images)`")
    if which == 1 and norm == 0:
        raise Mistake("the norm is 0", "measure it after `loss.backward()` (and not after a `zero_grad()`), before "
                                       "the step")
    if not close(norm, r_norm) and which == 2:
        raise Mistake("forgot optimizer.zero_grad(): gradients accumulate",
                      f"on a second call on the same batch your norm was {norm:.4f}, the reference {r_norm:.4f}: the "
                      "first call's gradients were still in `.grad` and the new ones were added to them. Call "
                      "`optimizer.zero_grad()` at the start of the step")
    if not close(norm, r_norm):
        raise Mistake("not this step's gradient norm", f"yours {norm:.4f}, the reference {r_norm:.4f}")
    if outputs.shape == r_outputs.shape and torch.allclose(outputs, outputs_after, atol=1e-6) \
            and not torch.allclose(outputs, r_outputs, atol=1e-6):
        raise Mistake("outputs after the step", "return the outputs of this step's forward pass, before `step()`")
    if outputs.shape != r_outputs.shape or not torch.allclose(outputs, r_outputs, rtol=1e-4, atol=1e-6):
        raise Mistake("not this batch's outputs", f"return `outputs = model(images)` ({list(r_outputs.shape)})")


def _diagnose_training_step(_name: str, function: Callable) -> Verdict:
    """Two calls on 16 MNIST-shaped images, against ``practical.training_step`` from the same weights."""
    g = torch.Generator().manual_seed(5)
    images, labels = torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    model = build_mlp("Tanh", seed=5, hidden=(32,))
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    reference_model = copy.deepcopy(model)
    reference = _two_steps(practical.training_step, reference_model, images, labels)
    mine = _two_steps(function, model, images, labels)
    for which, ((got, weights), (want, ref_weights)) in enumerate(zip(mine, reference), 1):
        moved = any(not torch.equal(weights[n], start[n]) for n in start)
        with torch.no_grad():
            after = torch.func.functional_call(reference_model, ref_weights, (images,))
        _compare_step(which, got, (want[0], want[1], want[2].detach()), moved, after)
        if not all(torch.allclose(weights[n], ref_weights[n], rtol=1e-4, atol=1e-7) for n in start):
            raise Mistake("the weights moved differently", "one `optimizer.step()` per call, after `backward()`")
    (l1, n1, _), (l2, n2, _) = (r for r, _ in reference)
    return Verdict("done", f"two steps on the same batch of 16 images, from the same weights as "
                           f"`helpers.practical.training_step`: loss {l1:.4f} → {l2:.4f}, gradient norm "
                           f"{n1:.4f} → {n2:.4f}, outputs and updated weights all equal.")


# ----------------------------------------------------------------------------- the right predictions

def _diagnose_correct_predictions(_name: str, function: Callable) -> Verdict:
    """Count the right predictions of a 10 × 10 batch (so argmax over dim 0 still runs) and a 64 × 10 one."""
    for n, right, seed in ((10, 4, 1), (64, 23, 2)):
        g = torch.Generator().manual_seed(seed)  # random outputs; exactly the first `right` labels are the largest
        outputs = torch.randn(n, 10, generator=g)
        labels = outputs.argmax(dim=1)
        labels[right:] = (labels[right:] + torch.randint(1, 10, (n - right,), generator=g)) % 10  # the rest: wrong
        value = call(function, outputs.clone(), labels.clone())
        if isinstance(value, torch.Tensor):
            raise Mistake("returned a tensor", f"your function returned `{value!r:.40}`; `.item()` gives a Python int")
        value = number(value, "the count", int)
        if value == right:
            continue
        dim0 = (outputs.argmax(dim=0) == labels).sum().item() if n == 10 else None
        match(value, [(right / n, "returned a fraction instead of a count", f"{value:g} is the share of right "
                       f"predictions; the check wants how many: {right} of {n}. Drop the division"),
                      (dim0, "argmax over the wrong dimension", "outputs is [batch, 10]: the classes run along "
                       "dim=1, so `outputs.argmax(dim=1)` picks one class per image"),
                      (n - right, "counted the wrong predictions", "count where the predicted class equals the label")],
              lambda a, b: close(a, b, 1e-6))
        raise Mistake("not the count", f"a batch of {n} with {right} right predictions: you return {value:g}")
    return Verdict("done", "4 right of a batch of 10 and 23 right of a batch of 64: the same counts as "
                           "`helpers.practical.correct_predictions`.")


_EXERCISES = (  # notebook 03's exercises, for the registry ``helpers.exercises.EXERCISES``
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
)
