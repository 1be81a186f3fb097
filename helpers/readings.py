"""Notebook 04's numbers and its own reading of them: what sections 2-7 compare, and the model reading behind
each observation box of section 7, written from the numbers so that every sentence follows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Mapping, Sequence

from .flow import layer_shares
from .history import History
from .report import EXPECTED_TEST_ACC, pct, ranking

_LAYERS = ("first hidden", "second hidden", "output")


@dataclass
class Comparison:
    """One comparison run, measured (notebook 04 §2): per activation, losses, accuracies and gradient norms.

    ``Comparison(runs)`` measures the runs of ``train_together``; its fields are filled in from them.
    """

    runs: Mapping[str, History]
    first_loss: dict[str, float] = field(init=False)  # mean training loss over the first epoch
    last_loss: dict[str, float] = field(init=False)  # ... over the last epoch
    global_norm: dict[str, float] = field(init=False)  # mean global gradient norm over the last epoch
    start: dict[str, tuple[list[float], list[float]]] = field(init=False)  # layer_shares over the first 20 iterations
    end: dict[str, tuple[list[float], list[float]]] = field(init=False)  # ... over the last epoch

    def __post_init__(self) -> None:
        k = next(iter(self.runs.values())).iterations_per_epoch
        self.first_loss = {n: mean(h.loss[:k]) for n, h in self.runs.items()}
        self.last_loss = {n: mean(h.loss[-k:]) for n, h in self.runs.items()}
        self.global_norm = {n: mean(h.grad_norm[-k:]) for n, h in self.runs.items()}
        self.start = {n: layer_shares(h, slice(0, 20)) for n, h in self.runs.items()}
        self.end = {n: layer_shares(h, slice(-k, None)) for n, h in self.runs.items()}

    def test_error(self, name: str) -> float:
        return 1 - self.runs[name].test_acc[-1]

    def train_error(self, name: str) -> float:
        return 1 - self.runs[name].train_acc[-1]

    def first_layer(self, when: str = "end") -> dict[str, float]:
        """The first hidden layer's mean weight-gradient norm: first 20 iterations ("start") or last epoch ("end")."""
        return {n: shares[0][0] for n, shares in getattr(self, when).items()}

    def layer_table(self) -> str:
        """Markdown: each layer's mean weight-gradient norm over the last epoch, and its share of the squared global
        norm (notebook 04 §2)."""
        head = ("| activation | " + " | ".join(f"{layer} layer" for layer in _LAYERS)
                + " | global | share of the squared global norm: first / second / output |\n| --- |" + " ---: |" * 5)
        return head + "\n" + "\n".join(
            f"| {n} | " + " | ".join(f"{v:.3f}" for v in norms) + f" | {self.global_norm[n]:.3f} | "
            + " / ".join(f"{100 * s:.0f} %" for s in shares) + " |" for n, (norms, shares) in self.end.items())


def _fast_start(first_epoch_loss: Mapping[str, float], test_acc: Mapping[str, float]) -> str:
    """Whether the activation with the lowest first-epoch loss also ended best on the test images."""
    fast, best = min(first_epoch_loss, key=first_epoch_loss.get), max(test_acc, key=test_acc.get)
    if fast == best:
        return (f"{fast} had the lowest loss in the first epoch and also ended with the best test accuracy: "
                "in this run the fastest start won. ")
    return (f"{fast} had the lowest loss in the first epoch, but {best} ended with the best test accuracy: "
            "a fast start did not decide the final order. ")


def _listed(values: Mapping[str, float], fmt: str = "{:.3f}") -> str:
    return ", ".join(f"{n} {fmt.format(v)}" for n, v in values.items())


def readings(c: Comparison, final: Mapping[str, Sequence[float]], resolved: Sequence) -> dict[str, str]:
    """The model reading behind each observation box of notebook 04 §7, from this run's numbers (the boxes' fill)."""
    test = {n: h.test_acc[-1] for n, h in c.runs.items()}
    best, worst = ranking(test)[0], ranking(test)[-1]
    fast = ranking({n: -v for n, v in c.first_loss.items()})
    errors = {n: c.test_error(n) for n in c.runs}
    first = c.first_layer()
    lo, hi = min(first, key=first.get), max(first, key=first.get)
    apart = [max(n[j] for n, _ in c.end.values()) / min(n[j] for n, _ in c.end.values()) for j in range(3)]
    widest = apart.index(max(apart))
    low, high = (EXPECTED_TEST_ACC["ReLU"][0] - EXPECTED_TEST_ACC["Sigmoid"][1],
                 EXPECTED_TEST_ACC["ReLU"][1] - EXPECTED_TEST_ACC["Sigmoid"][0])
    relu_gap = test["ReLU"] - test["Sigmoid"]
    loss = (f"In this run {fast[0]}'s loss fell fastest: mean over the first epoch "
            + _listed({n: c.first_loss[n] for n in fast}) + "; over the last epoch "
            + _listed({n: c.last_loss[n] for n in ranking({n: -v for n, v in c.last_loss.items()})}) + ". "
            + _fast_start(c.first_loss, test))
    accuracy = (
        f"As error rates (100 % − accuracy): {best} made the fewest test errors, {pct(errors[best])}, and {worst} "
        f"the most, {pct(errors[worst])}: {errors[worst] / errors[best]:.2f} times as many. On the training images: "
        + _listed({n: c.train_error(n) for n in c.runs}, "{:.2%}") + " errors; "
        + (f"{worst} is last there too, so it fits the training images less well (underfitting), not a "
           "generalisation problem. " if worst == max(c.runs, key=c.train_error) else
           f"{worst} is not last there: its train − test gap puts it last. ")
        + f"Over five seeds, by the mean: {' > '.join(ranking({n: mean(v) for n, v in final.items()}))}; "
        f"{len(resolved)} of 3 pairwise differences resolved at 95 %"
        + (": " + "; ".join(f"{p.a} > {p.b}" for p in resolved) if resolved else "") + ".")
    gradients = (
        f"In the first hidden layer, the furthest from the loss, {lo}'s gradient norm was the smallest "
        f"({first[lo]:.3f}) and {hi}'s the largest ({first[hi]:.3f}): {first[hi] / first[lo]:.1f} times. The "
        f"activations are furthest apart in the {_LAYERS[widest]} layer ({apart[widest]:.1f} times). The largest "
        "share of each squared global norm: "
        + ", ".join(f"{n} {100 * max(s):.0f} % in its {_LAYERS[s.index(max(s))]} layer" for n, (_, s) in c.end.items())
        + ": comparing global norms compares different layers.")
    conclusion = (
        f"With two hidden layers and Adam, all three activations learned MNIST to "
        f"{pct(min(min(v) for v in final.values()), 1)} or better on every seed. In this run the activation changed "
        f"the first hidden layer's gradient norm by a factor of {first[hi] / first[lo]:.1f} and the test error rate "
        f"by {errors[worst] / errors[best]:.2f}"
        + (f"; the network with the smallest first-layer gradients ({lo}) made the fewest errors: small raw "
           "gradients did not hold Adam back" if lo == best else "")
        + f". ReLU − Sigmoid is {100 * relu_gap:+.2f} points, where the practical expects {100 * low:.0f} to "
        f"{100 * high:.0f}: " + ("at this depth, with Adam, vanishing gradients did not decide the result."
                                 if relu_gap < low else "as large a gap as the handout expects."))
    return {"loss_reading": loss, "accuracy_reading": accuracy, "gradient_reading": gradients,
            "conclusion_reading": conclusion}


def seeds_reading(final: Mapping[str, Sequence[float]], pairs: Sequence) -> str:
    """Notebook 04 §5: the ranking by the mean over the seeds, and which paired differences the seeds resolve."""
    resolved, unresolved = [p for p in pairs if p.resolved], [p for p in pairs if not p.resolved]
    text = f"**Reading.** Ranked by the mean over {len(next(iter(final.values())))} seeds: " + " > ".join(
        ranking({n: mean(v) for n, v in final.items()})) + ". "
    text += ("Resolved by these seeds (the interval excludes 0): " + "; ".join(
        f"{p.a} beats {p.b} by {100 * p.mean:.2f} points on average" for p in resolved) + ". ") if resolved else (
        "No pair is resolved by these seeds. ")
    if unresolved:
        text += "Not resolved: " + "; ".join(
            f"{p.a} vs {p.b} ({100 * p.mean:+.2f} points, interval {100 * p.interval[0]:+.2f} to "
            f"{100 * p.interval[1]:+.2f})" for p in unresolved) + (
            ": the seeds cannot say which of these is better at the practical's settings.")
    return text
