"""A fair optimizer comparison (notebook 05 §4): each learning rate chosen on held-out training images.

``validation_split`` holds out part of the training subset; ``tuned_sweep`` trains at every rate of a grid, scores
each run on the held-out images only, keeps the best rate per activation and evaluates that one network, once, on
the test set.  Every training is cached (``helpers/sweeps.py``) under a key that names the split.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import torch

from ._machinery.training import instability
from .activations import activation_name
from .data import MNISTTensors
from .history import History, TrainingUnstable
from .report import _table, pct
from .sweeps import _MNIST_DATA, sweep_catching
from .train import TrainConfig, evaluate


def validation_split(data: MNISTTensors, n_val: int, seed: int = 0, train_size: int | None = None) -> MNISTTensors:
    """The first ``train_size`` training images less ``n_val`` held out (chosen by ``seed``), the held-out ones in the
    test set's place: a run trained on it reports validation accuracy; the test set is not in it (notebook 05 §4)."""
    n = len(data.train_x) if train_size is None else min(train_size, len(data.train_x))
    if not 0 < n_val < n:
        raise ValueError(f"n_val must be between 1 and {n - 1} (the training subset has {n} images), got {n_val}.")
    held_out, kept = _split_indices(n, n_val, seed)
    return MNISTTensors(data.train_x[kept], data.train_y[kept], data.train_x[held_out], data.train_y[held_out])


def _split_indices(n: int, n_val: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(held out, kept): a random ``n_val`` of the indices 0..n-1 and the rest, each in increasing order."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:n_val].sort().values, order[n_val:].sort().values


def _split_name(train_size: int | None, n_val: int, seed: int) -> str:
    """The data a tuning run trains on, as its cache key names it: everything that changes the split."""
    first = "all 60 000" if train_size is None else f"the first {train_size}"
    return f"{_MNIST_DATA}: {first} training images less {n_val} held out for validation (split seed {seed})"


@dataclass(frozen=True)
class TunedRate:
    """One activation under one optimizer: validation accuracy per rate, the chosen rate, its test accuracy (notebook 05 §4)."""

    activation: str
    rates: tuple[float, ...]
    val_acc: tuple[float, ...]  # per rate, on the held-out images; NaN where the run diverged or blew up (never chosen)
    lr: float  # the rate with the highest validation accuracy
    test_acc: float  # the chosen network on the test set: the only use of the test set
    history: History  # the chosen run, its last ``test_acc`` and ``test_loss`` measured on the test set

    @property
    def best_val_acc(self) -> float:
        return self.val_acc[self.rates.index(self.lr)]

    @property
    def at_edge(self) -> bool:
        """The chosen rate is the grid's smallest or largest: a wider grid might find a better one."""
        return self.lr in (min(self.rates), max(self.rates))


def _best_rate(rates: Sequence[float], val_acc: Sequence[float]) -> float:
    """The rate with the highest validation accuracy (NaN counts as the lowest; ties: the smaller rate)."""
    usable = [(acc, -lr) for lr, acc in zip(rates, val_acc) if not math.isnan(acc)]
    if not usable:
        raise ValueError(f"every rate in {list(rates)} diverged or blew up: try smaller ones.")
    return -max(usable)[1]


def _validation_runs(what: str, names: list[str], config: TrainConfig, split: MNISTTensors, split_name: str,
                     progress: bool, retrain: bool) -> dict[str, History | None]:
    """One rate: the activations trained together on the split; after a divergence, each alone (None: it diverged)."""
    runs, diverged = sweep_catching(what, names, config, data=split, data_name=split_name, progress=progress,
                                    retrain=retrain)
    if diverged is None:
        return dict(runs)
    if len(names) == 1:
        return {names[0]: None}
    return {n: _validation_runs(what, [n], config, split, split_name, progress, retrain)[n] for n in names}


def tuned_sweep(what: str, activations: Sequence[str], config: TrainConfig, rates: Sequence[float], *,
                data: MNISTTensors, n_val: int, split_seed: int = 0, progress: bool = False,
                retrain: bool = False) -> dict[str, TunedRate]:
    """Per activation: train at every rate on the split, choose by validation accuracy, test the chosen one (notebook 05 §4).

    ``config.train_size`` is the training subset the split is cut from; ``config.lr`` is replaced by each rate."""
    names = [activation_name(a) for a in activations]
    split = validation_split(data, n_val, split_seed, config.train_size)
    split_name = _split_name(config.train_size, n_val, split_seed)
    fit = replace(config, train_size=len(split.train_x))
    per_rate: dict[float, dict[str, History | None]] = {}
    with warnings.catch_warnings():  # a blown-up run is a bad rate here, shown as such, not a warning
        warnings.simplefilter("ignore", TrainingUnstable)
        for lr in rates:
            per_rate[lr] = _validation_runs(what, names, replace(fit, lr=lr), split, split_name, progress, retrain)
    tuned = {}
    for n in names:
        runs = [per_rate[lr][n] for lr in rates]
        # a run that blew up is a bad rate (NaN, never chosen); one that learned little keeps its accuracy
        val = tuple(h.test_acc[-1] if h is not None and instability(h) is None else math.nan for h in runs)
        lr = _best_rate(rates, val)
        chosen = runs[list(rates).index(lr)]
        acc, loss = (v.item() for v in evaluate(chosen.model.to(data.test_x.device), data.test_x, data.test_y))
        earlier = [math.nan] * (len(chosen.test_acc) - 1)  # only the last epoch is ever tested
        tested = replace(chosen, test_acc=earlier + [acc], test_loss=earlier + [loss])
        tuned[n] = TunedRate(n, tuple(rates), val, lr, acc, tested)
    return tuned


def tuned_rates_table(tuned: Mapping[str, Mapping[str, TunedRate]]) -> str:
    """Markdown table: per optimizer and activation, validation accuracy at each rate (the chosen one bold), the
    chosen rate and its test accuracy (notebook 05 §4)."""
    def tried(t: TunedRate) -> str:
        return " · ".join((f"**{r:g}: {100 * a:.1f}**" if r == t.lr else f"{r:g}: " + (
            "–" if math.isnan(a) else f"{100 * a:.1f}")) for r, a in zip(t.rates, t.val_acc))

    return _table("optimizer | activation | validation accuracy (%) at each rate | chosen rate | test accuracy",
                  "--- | --- | --- | ---: | ---:",
                  [[o, t.activation, tried(t), f"{t.lr:g}" + (" (grid edge)" if t.at_edge else ""), pct(t.test_acc)]
                   for o, per in tuned.items() for t in per.values()])
