"""Notebook 03's exercises (§3): one training step, and counting the right predictions of a batch.

Each check runs the student's function and ``helpers.practical``'s on the same inputs; typical mistakes get a message.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn

from .. import practical
from .._machinery.checking import Exercise, Mistake, Verdict, both, call, close, match, number, returning
from ..model import build_mlp


# ----------------------------------------------------------------------------- one training step

def _two_steps(step: Callable, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               fresh_optimizer: bool = False) -> list[tuple]:
    """Call ``step`` twice on the same batch (Adam, lr 1e-3; a new one per call with ``fresh_optimizer``); each
    call's result and the weights after it."""
    optimizer, criterion = torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    runs = []
    for _ in range(2):
        if fresh_optimizer:
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        result = call(step, model, images, labels, optimizer, criterion)
        runs.append((result, {n: p.detach().clone() for n, p in model.named_parameters()}))
    return runs


def _step_result(result: Any) -> tuple[float, float, torch.Tensor, bool]:
    """(loss, norm, outputs, whether a number had to be converted) from what the student returned, or the Mistake."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise Mistake("return three things", "the step returns the loss, the gradient norm and the outputs, in "
                                             "that order")
    loss, norm, outputs = result
    if not isinstance(outputs, torch.Tensor):
        raise Mistake("outputs is not a tensor", "the third value is what the model computed for the batch")
    (loss, c1), (norm, c2) = number(loss, "the loss"), number(norm, "the norm")
    return loss, norm, outputs.detach(), c1 or c2


def _as_floats(result: tuple) -> tuple[float, float, torch.Tensor]:
    """A step's (loss, norm, outputs) with the two numbers as Python floats (what ``train_plain`` records)."""
    loss, norm, outputs = result
    return number(loss, "the loss")[0], number(norm, "the norm")[0], outputs


def _compare_step(which: int, got: tuple, want: tuple, moved: bool, outputs_after: torch.Tensor) -> bool:
    """Raise the Mistake that explains how call ``which`` (1, 2) of the student's step differs from the reference's;
    return whether a number had to be converted."""
    loss, norm, outputs, converted = _step_result(got)
    r_loss, r_norm, r_outputs = want
    if which == 1 and not moved:
        raise Mistake("the weights did not change", "a training step ends by updating the weights (or a "
                                                    "`zero_grad()` after `backward()` left the optimizer nothing)")
    if close(loss, r_norm) and close(norm, r_loss) and not close(loss, r_loss):
        raise Mistake("loss and norm swapped", "return them in the order (loss, norm, outputs)")
    if not close(loss, r_loss):
        raise Mistake("not this batch's loss", f"yours and the reference are {both(loss, r_loss)}: the loss of "
                                               "this batch's outputs against its labels, before the update")
    if which == 1 and norm == 0:
        raise Mistake("the norm is 0", "when the norm is measured, the gradients of this batch must exist and not "
                                       "be cleared yet")
    if not close(norm, r_norm) and which == 2:
        raise Mistake("forgot optimizer.zero_grad(): gradients accumulate",
                      f"on a second call on the same batch your norm and the reference were {both(norm, r_norm)}: "
                      "the first call's gradients were still in `.grad` and the new ones were added to them")
    if not close(norm, r_norm):
        raise Mistake("not this step's gradient norm", f"yours and the reference are {both(norm, r_norm)}")
    if outputs.shape == r_outputs.shape and torch.allclose(outputs, outputs_after, atol=1e-6) \
            and not torch.allclose(outputs, r_outputs, atol=1e-6):
        raise Mistake("outputs after the step", "return the outputs of this step's forward pass, from before the "
                                                "weights changed")
    if outputs.shape != r_outputs.shape or not torch.allclose(outputs, r_outputs, rtol=1e-4, atol=1e-6):
        raise Mistake("not this batch's outputs", f"the third value should be the model's outputs for the batch "
                                                  f"({list(r_outputs.shape)}); yours have shape {list(outputs.shape)}")
    return converted


def _same_weights(a: dict, b: dict) -> bool:
    return all(torch.allclose(a[n], b[n], rtol=1e-4, atol=1e-7) for n in a)


def _diagnose_training_step(_name: str, function: Callable) -> Verdict:
    """Two calls on 16 MNIST-shaped images, against ``practical.training_step`` from the same weights."""
    g = torch.Generator().manual_seed(5)
    images, labels = torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    model = build_mlp("Tanh", seed=5, hidden=(32,))
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    reference_model = copy.deepcopy(model)
    reference = _two_steps(practical.training_step, reference_model, images, labels)
    mine = _two_steps(function, model, images, labels)
    converted = False
    for which, ((got, weights), (want, ref_weights)) in enumerate(zip(mine, reference), 1):
        moved = any(not torch.equal(weights[n], start[n]) for n in start)
        with torch.no_grad():
            after = torch.func.functional_call(reference_model, ref_weights, (images,))
        converted |= _compare_step(which, got, (want[0], want[1], want[2].detach()), moved, after)
        if not _same_weights(weights, ref_weights):
            fresh = _two_steps(practical.training_step, build_mlp("Tanh", seed=5, hidden=(32,)), images, labels,
                               fresh_optimizer=True)
            if _same_weights(weights, fresh[which - 1][1]):
                raise Mistake("made its own optimizer", "a new optimizer in every step forgets Adam's running "
                                                        "averages: use the `optimizer` the step is given")
            raise Mistake("the weights moved differently", "one update per call, with the optimizer passed in, "
                                                           "after the gradients of this batch are computed")
    (l1, n1, _), (l2, n2, _) = (r for r, _ in reference)
    tip = " (It returns tensors or NumPy numbers; the notebook turns them into Python floats.)" if converted else ""
    return Verdict("done", f"two steps on the same batch of 16 images, from the same weights as "
                           f"`helpers.practical.training_step`: loss {l1:.4f} → {l2:.4f}, gradient norm "
                           f"{n1:.4f} → {n2:.4f}, outputs and updated weights all equal.{tip}",
                   adapted=returning(function, _as_floats) if converted else None)


# ----------------------------------------------------------------------------- the right predictions

def _batch(n: int, right: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs [n, 10] (requiring grad, as a model's do) and labels with exactly the first ``right`` predictions
    right."""
    g = torch.Generator().manual_seed(seed)
    outputs = torch.randn(n, 10, generator=g)
    labels = outputs.argmax(dim=1)
    labels[right:] = (labels[right:] + torch.randint(1, 10, (n - right,), generator=g)) % 10  # the rest: wrong
    return outputs.requires_grad_(), labels


def _diagnose_correct_predictions(_name: str, function: Callable) -> Verdict:
    """Count the right predictions of a 10 × 10 batch (so argmax over dim 0 still runs) and a 64 × 10 one."""
    converted = False
    for n, right, seed in ((10, 4, 2), (64, 23, 2)):  # seed 2: argmax over dim 0 counts 3, a number of its own
        outputs, labels = _batch(n, right, seed)
        raw = call(function, outputs.clone(), labels.clone())
        value, converted = number(raw, "the count")[0], converted or type(raw) is not int
        if value == right:
            continue
        dim0 = (outputs.argmax(dim=0) == labels).sum().item() if n == 10 else None
        match(value, [(right / n, "returned a fraction instead of a count", f"{value:g} is the share of right "
                       f"predictions; the check wants how many: {right} of {n}"),
                      (100 * right / n, "returned a percentage instead of a count", f"{value:g} % of the images are "
                       f"right; the check wants how many: {right} of {n}"),
                      (dim0 if dim0 not in (0, right, n - right) else None, "argmax over the wrong dimension",
                       "outputs is [batch, 10]: one row per image, one column per class; the prediction is taken "
                       "along the classes"),
                      (n - right, "counted the wrong predictions", "count where the predicted class equals the label"),
                      (n, "counted every image", "count only the images whose predicted class equals their label")],
              lambda a, b: close(a, b, 1e-6))
        if not value.is_integer():
            raise Mistake("the count is not a whole number", f"your function returned {value!r}; it counts images")
        raise Mistake("not the count", f"for a batch of {n} outputs with {right} right predictions your function "
                                       f"returned {value:g}")
    tip = " (It returns a tensor, a float or a NumPy number; the notebook turns it into a Python int.)" \
        if converted else ""
    return Verdict("done", "4 right of a batch of 10 and 23 right of a batch of 64: the same counts as "
                           f"`helpers.practical.correct_predictions`.{tip}",
                   adapted=returning(function, lambda v: number(v, "the count", int)[0]) if converted else None)


_EXERCISES = (  # notebook 03's exercises, for the registry ``helpers.exercises.EXERCISES``
    Exercise("training_step", "03", "one training step", ("training_step",), (practical.training_step,),
             "`helpers.practical.training_step`",
             ("Five things happen in a step: clear the old gradients, forward, loss, backward, update; the norm is "
              "measured when this batch's gradients exist and before the update.",
              "Use the `optimizer` and `criterion` the step is given; return `loss.item()` (a float), the norm and "
              "the outputs.",
              "`optimizer.zero_grad()`, `outputs = model(images)`, `loss = criterion(outputs, labels)`, "
              "`loss.backward()`, `norm = global_grad_norm(model)`, `optimizer.step()`."),
             _diagnose_training_step),
    Exercise("correct_predictions", "03", "counting the right predictions", ("correct_predictions",),
             (practical.correct_predictions,), "`helpers.practical.correct_predictions`",
             ("`outputs` is [batch, 10]: one score per class for each image; the prediction is the largest score.",
              "One predicted class per image, compared with `labels`, gives True/False per image: count the Trues.",
              "`(outputs.argmax(dim=1) == labels).sum().item()`."),
             _diagnose_correct_predictions),
)
