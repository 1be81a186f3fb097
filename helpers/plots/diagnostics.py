"""Notebook 05 §5's figures: two diagnostics practitioners read while a network trains.

Both read ``History.diagnostics``, recorded by ``TrainConfig(diagnostics_every=k)``: every k iterations, each
Linear weight's update-to-weight ratio ‖ΔW‖ / ‖W‖ of that optimizer step, and a histogram of each hidden layer's
activations on that batch, with the share of *flat* values (saturated Sigmoid or Tanh, ReLU's zeros).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .._machinery.figure_style import (FIG_WIDTH, _handles_of, activation_style, legend_below, styled, subplots,
                                       wrap)
from ..history import History
from .layers import _draw_layer_curves

_GUIDE = -3  # Karpathy's rule of thumb: an update about 1/1000 of the weight, log10 = -3


def _diagnostics(h: History) -> dict:
    if not h.diagnostics:
        raise ValueError(f"The {h.activation} run recorded no diagnostics: train it with "
                         f"TrainConfig(diagnostics_every=k), e.g. k = 2.")
    return h.diagnostics


@styled
def plot_update_ratios(runs: Mapping[str, History], title: str | None = None) -> Figure:
    """Per activation, each Linear layer's log10 ‖ΔW‖ / ‖W‖ per recorded step, guide line at 10⁻³ (notebook 05 §5)."""
    fig, axes = subplots(1, len(runs), height=4.8, sharey=True, squeeze=False)
    for ax, (name, h) in zip(axes.flat, runs.items()):
        d = _diagnostics(h)
        logs = [[math.log10(r) if r > 0 else float("nan") for r in row] for row in d["update_ratio"]]
        _draw_layer_curves(ax, zip(*logs), x=d["iterations"], linewidth=1.6)
        ax.axhline(_GUIDE, color="black", linestyle="--", linewidth=1.5, label="10⁻³ (rule of thumb)")
        ax.set(title=name, xlabel="iteration")
    axes[0, 0].set_ylabel("log₁₀ ‖ΔW‖ / ‖W‖ (one step)")
    every = _diagnostics(next(iter(runs.values())))["every"]
    fig.suptitle(wrap(title or f"Update-to-weight ratio of each Linear layer, every {every} iterations "
                      f"(layer 1 = input side)", FIG_WIDTH))
    legend_below(fig, [_handles_of(axes[0, 0])])
    return fig


def _edges(iterations: Sequence[int], every: int) -> np.ndarray:
    """Cell edges along x: each recorded iteration in the middle of its cell."""
    x = np.asarray(iterations, dtype=float)
    return np.concatenate([x - every / 2, [x[-1] + every / 2]])


@styled
def plot_activation_heatmaps(runs: Mapping[str, History], layers: Sequence[int] | None = None,
                             title: str | None = None) -> Figure:
    """A column per activation, per hidden layer a heat map over the iterations (y: activation value, colour: share
    of the layer's values in that bin, log scale) and beneath it the flat share: saturated or zero (notebook 05 §5);
    dashed, the units that are flat for every image of the batch (for ReLU: off for the whole batch).

    ``layers``: which hidden layers (1 = first); default the first and the last."""
    names = list(runs)
    first = _diagnostics(runs[names[0]])
    layers = list(layers or sorted({1, first["layers"]}))
    heights = [r for _ in layers for r in (2.3, 1.1)] + [0.22]
    fig, axes = subplots(len(heights), len(names), height=sum(heights) + 1.7, squeeze=False,
                         gridspec_kw={"height_ratios": heights})
    norm, mesh = LogNorm(vmin=1e-2, vmax=100), None  # % of the layer's values; an empty bin is left white
    for col, name in enumerate(names):
        d = _diagnostics(runs[name])
        low, high, count = d["bins"]
        x = _edges(d["iterations"], d["every"])
        y = np.linspace(low, high, count + 1)
        for k, layer in enumerate(layers):
            heat, line = axes[2 * k, col], axes[2 * k + 1, col]
            heat.sharex(axes[0, col]), line.sharex(axes[0, col])  # one iteration axis per column, labelled once
            shares = np.array([row[layer - 1] for row in d["histogram"]]).T * 100  # [bins, records]
            mesh = heat.pcolormesh(x, y, np.ma.masked_less_equal(shares, 0), norm=norm, shading="flat")
            heat.set(title=f"{name}, hidden layer {layer}", ylabel="value" + (" (> 0)" if d["zeros_apart"] else ""))
            heat.grid(False)
            flat = [100 * row[layer - 1] for row in d["flat_share"]]
            units = [100 * row[layer - 1] for row in d["flat_units"]]
            color = activation_style(name)["color"]
            line.plot(d["iterations"], flat, color=color, linewidth=1.8)
            line.plot(d["iterations"], units, color=color, linewidth=1.5, linestyle="--")
            line.set(ylabel="flat (%)", ylim=(0, max(5.0, 1.15 * max(flat + units))))
            heat.tick_params(labelbottom=False)
        axes[-2, col].set_xlabel("iteration")
        axes[0, col].set_xlim(x[0], x[-1])
        axes[-1, col].set_visible(False)
    bar = fig.colorbar(mesh, ax=list(axes[-1, :]), orientation="horizontal", fraction=1.0, aspect=60)
    bar.set_label("share of the layer's values in the bin (%, log scale)")
    bar.ax.set_ylabel("colour:", rotation=0, ha="right", va="center")
    every = first["every"]
    fig.suptitle(wrap(title or f"Activations over training, one batch every {every} iterations; beneath each: the "
                      f"share of flat values (saturated Sigmoid or Tanh, ReLU's zeros)", FIG_WIDTH))
    legend_below(fig, [[(Line2D([], [], color="0.3"), "flat values (% of the layer's values)"),
                        (Line2D([], [], color="0.3", linestyle="--"), "units flat for every image of the batch (%)")]])
    return fig
