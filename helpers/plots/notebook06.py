"""Notebook 06's figures: what fixes it (initialisation, gain and depth, clipping, seeds)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..flow import mean_std
from ..history import History
from ..report import smooth
from .panels import _KEY_COLOR, _apply_panel
from .._machinery.figure_style import (OKABE_ITO, OTHER_COLORS, activation_handles, activation_style, legend_below,
                                       styled, subplots, _every, _handles_of, _line_style)
from .layers import _PROFILE_STYLES


@styled
def plot_init_comparison(accuracy: Mapping[str, Mapping[str, float]], ratio: Mapping[str, Mapping[str, float]],
                         title: str = "10 hidden layers, 1 short epoch") -> Figure:
    """Bars per init and activation: test accuracy (fractions), first/last gradient ratio at init (notebook 06)."""
    inits = list(accuracy)
    names = list(next(iter(accuracy.values())))
    fig, (a1, a2) = subplots(1, 2, height=4.6)
    xs = np.arange(len(inits))
    bar = 0.8 / len(names)
    for k, n in enumerate(names):
        s = activation_style(n)
        where = xs + bar * (k - (len(names) - 1) / 2)
        for ax, values in ((a1, [100 * accuracy[i][n] for i in inits]), (a2, [ratio[i][n] for i in inits])):
            ax.bar(where, values, bar, color=s["color"], hatch=s["hatch"], edgecolor="white", linewidth=0,
                   label=n)
    a1.set(title="Test accuracy", ylabel="test accuracy (%)")
    a2.set(title="Gradient ratio at initialisation", ylabel="‖∂L/∂W₁‖₂ / ‖∂L/∂W_last‖₂ (iteration 1)",
           yscale="log")
    for ax in (a1, a2):
        ax.set(xticks=xs, xticklabels=inits, xlabel="initialisation")
        ax.grid(False, axis="x")
    fig.suptitle(title)
    legend_below(fig, [[(Patch(facecolor=activation_style(n)["color"], hatch=activation_style(n)["hatch"],
                               edgecolor="white"), n) for n in names]])
    return fig


@styled
def plot_gain_depth(depths: Sequence[int], first_layer: Mapping[float, Sequence[float]],
                    activation: str = "ReLU", init: str = "He") -> Figure:
    """The gradient reaching layer 1 at initialisation against the depth, one line per gain of the init (notebook 06)."""
    fig, ax = subplots(height=4.6, width=8.5)
    for (gain, values), fmt, color in zip(first_layer.items(), _PROFILE_STYLES, OTHER_COLORS):
        ax.plot(depths, values, fmt, color=color, label=f"{init} × {gain}")
    ax.set(title=f"Gradient reaching layer 1 at initialisation ({activation})", xlabel="hidden layers",
           ylabel="‖∂L/∂W₁‖₂", yscale="log", xticks=list(depths))
    legend_below(fig, [_handles_of(ax)])
    return fig


@styled
def plot_clipping(raw: History, clipped: History, first: int = 40,
                  labels: tuple[str, str] = ("no clipping", "clip_grad_norm = 1")) -> Figure:
    """The global gradient norm (before clipping) and the loss of two runs over the first ``first`` iterations (notebook 06)."""
    fig, (a1, a2) = subplots(1, 2, height=4.6)
    for h, label, fmt, color in ((raw, labels[0], "o-", OTHER_COLORS[0]),
                                 (clipped, labels[1], "s-", OKABE_ITO["blue"])):
        for ax, values in ((a1, h.grad_norm), (a2, h.loss)):
            ax.plot(range(1, len(values) + 1), values, fmt, color=color, markersize=4, label=label)
    a1.set(title="Gradient norm (before clipping)", ylabel="‖∇θ L‖₂ (all parameters)")
    a2.set(title="Training loss", ylabel="cross-entropy loss")
    for ax in (a1, a2):
        ax.set(xlabel="iteration", yscale="log", xlim=(0, first))
    legend_below(fig, [_handles_of(a1)])
    return fig


@styled
def plot_seed_spread(seed_runs: Mapping[int, Mapping[str, History]], window: int = 20) -> Figure:
    """Mean ± standard deviation over seeds: the test accuracy per epoch and the gradient norm (moving average) (notebook 06)."""
    seeds = list(seed_runs)
    names = list(seed_runs[seeds[0]])
    fig, (a1, a2) = subplots(1, 2, height=4.6)
    for n in names:
        s = _line_style(n)
        accuracy = [[100 * a for a in seed_runs[k][n].test_acc] for k in seeds]
        norms = [smooth(seed_runs[k][n].grad_norm, window) for k in seeds]
        for ax, per_seed, markers in ((a1, accuracy, False), (a2, norms, True)):  # markers: on the long lines only
            m, sd = mean_std(per_seed)
            x = range(1, len(m) + 1)
            ax.plot(x, m, "-", **s, markevery=_every(len(m), n) if markers else None, label=n)
            ax.fill_between(x, m - sd, m + sd, color=s["color"], alpha=0.2, linewidth=0)
    _apply_panel(a1, "accuracy", title="Test accuracy per epoch")
    a1.set_ylabel("test accuracy (%)")
    _apply_panel(a2, "grad_norm", title=f"Gradient norm (moving average, {window} it.)")
    fig.suptitle(f"Mean ± 1 standard deviation over {len(seeds)} seeds")
    band = (Patch(color=_KEY_COLOR, alpha=0.2, linewidth=0), "± 1 standard deviation")
    legend_below(fig, [activation_handles(names), [band]])
    return fig
