"""Notebook 05's figures: where gradients vanish (per-layer norms, saturation and dead units, depth, optimizers)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..history import History
from ..report import pct, smooth
from .panels import _apply_panel, _thin
from .._machinery.figure_style import (FIG_WIDTH, integer_ticks, legend_below, style_axes, styled, subplots, wrap,
                                       _every, _handles_of, _line_style)
from .layers import _layer_color, _draw_layer_curves, plot_layer_profiles


def _measured(name: str) -> str:
    return "dead units" if name == "ReLU" else "saturated values"


@styled
def plot_layer_norms(runs: Mapping[str, History], title: str, window: int = 10) -> Figure:
    """Per activation, each layer's weight-gradient norm (moving average; global one dashed), log y (notebook 05)."""
    fig, axes = subplots(1, len(runs), height=4.8, sharey=True, squeeze=False)
    for ax, (name, h) in zip(axes.flat, runs.items()):
        _draw_layer_curves(ax, zip(*h.layer_grad_norms), window=window)
        ax.plot(smooth(h.grad_norm, window), color="black", linestyle="--", linewidth=1.5, label="global norm")
        ax.set(title=name, xlabel="iteration", yscale="log")
    axes[0, 0].set_ylabel(f"‖∂L/∂W‖₂ (moving average, {window} it.)")
    fig.suptitle(wrap(title, FIG_WIDTH))
    legend_below(fig, [_handles_of(axes[0, 0])])
    return fig


@styled
def plot_saturation_during_training(curve: Mapping[str, list[tuple[int, list[float]]]]) -> Figure:
    """Per activation, each hidden layer's saturated or dead share against the iteration (notebook 05)."""
    fig, axes = subplots(1, len(curve), height=4.6, sharey=True, squeeze=False)
    for ax, (name, points) in zip(axes.flat, curve.items()):
        per_layer = zip(*[[100 * v for v in values] for _, values in points])
        _draw_layer_curves(ax, per_layer, x=[i for i, _ in points], fmt="o-", ms=4)
        ax.set(title=name, xlabel="iteration", ylabel=f"{_measured(name)} (%)")
    fig.suptitle("Saturated values (Sigmoid, Tanh) or dead units (ReLU) of each hidden layer during training")
    legend_below(fig, [_handles_of(axes.flat[0])])
    return fig


def plot_saturation_by_stage(saturation: Mapping[str, Mapping[str, list[float]]]) -> Figure:
    """``plot_layer_profiles`` of the saturated / dead share per hidden layer, one line per stage of training (notebook 05)."""
    titles = {name: "ReLU: dead units\n(0 for every image measured)" if name == "ReLU" else f"{name}: {_measured(name)}"
              for name in next(iter(saturation.values()))}
    return plot_layer_profiles(saturation, titles, ylabel="saturated or dead (%)", percent=True)


@styled
def plot_activation_histograms(outputs: Mapping[str, Mapping[str, Sequence[torch.Tensor]]],
                               layers: Sequence[int] = (1, 3, 5), bins: int = 60) -> Figure:
    """Histograms (log density) of hidden layers' outputs, a column per activation, a row per stage (notebook 05).

    ``outputs[name][stage]``: a tensor per hidden layer (``flow.capture_activations``); ``layers``: which (1 = first).
    """
    names = list(outputs)
    stages = list(next(iter(outputs.values())))
    fig, axes = subplots(len(stages), len(names), height=3.0 * len(stages) + 0.8, squeeze=False)
    styles = ("-", "--", ":", "-.")
    for col, name in enumerate(names):
        for row, stage in enumerate(stages):
            ax, outs = axes[row, col], outputs[name][stage]
            for k, layer in enumerate(layers):
                ax.hist(outs[layer - 1].flatten().numpy(), bins=bins, histtype="step", density=True, linewidth=1.8,
                        color=_layer_color(layer - 1, len(outs)), linestyle=styles[k % len(styles)],
                        label=f"layer {layer}")
            ax.set(title=f"{name}, {stage}", yscale="log", xlabel="activation value", ylabel="density")
    key = [(Line2D([], [], color=_layer_color(layer - 1, len(outputs[names[0]][stages[0]])),
                   linestyle=styles[k % len(styles)]), f"layer {layer}") for k, layer in enumerate(layers)]
    legend_below(fig, [key])
    return fig


@styled
def plot_depth_sweep(init_depths: Sequence[int], first_layer_norm: Mapping[str, Sequence[float]],
                     ratio: Mapping[str, Sequence[float]], train_depths: Sequence[int],
                     test_acc: Mapping[str, Sequence[float]], chance: float = 0.1) -> Figure:
    """Against the hidden layers: layer 1's gradient norm, the first/last ratio and the test accuracy (notebook 05).

    The first two at initialisation (``init_depths``), the test accuracy (fractions) after training (``train_depths``).
    """
    fig, (a1, a2, a3) = subplots(1, 3, height=4.6)
    for n in first_layer_norm:
        s = _line_style(n)
        a1.plot(init_depths, first_layer_norm[n], "-", **s, label=n)
        a2.plot(init_depths, ratio[n], "-", **s, label=n)
        a3.plot(train_depths, [100 * v for v in test_acc[n]], "-", **s, label=n)
    a1.set(title="Layer 1, at initialisation", ylabel="‖∂L/∂W₁‖₂", yscale="log")
    a2.set(title="Layer 1 / last, at initialisation", ylabel="‖∂L/∂W₁‖₂ / ‖∂L/∂W_last‖₂", yscale="log")
    a3.set(title="After 1 short epoch (Adam)", ylabel="test accuracy (%)")
    a3.axhline(100 * chance, color="0.4", linestyle=":", linewidth=1.5, label=f"chance ({100 * chance:g} %)")
    for ax in (a1, a2, a3):
        ax.set_xlabel("hidden layers")
        integer_ticks(ax.xaxis, most=5)
    legend_below(fig, [_handles_of(a3)])
    return fig


@styled
def plot_loss_by_setting(runs: Mapping[str, Mapping[str, History]], window: int = 20,
                         ylim: tuple[float, float] | None = None) -> Figure:
    """A panel per setting (e.g. optimizer): each activation's smoothed loss and final test accuracy (notebook 05)."""
    fig = plt.figure(figsize=(FIG_WIDTH, 5.5), layout="constrained")
    subfigs = fig.subfigures(1, len(runs), wspace=0.02)
    for sub, (setting, per_activation) in zip(np.ravel(subfigs), runs.items()):
        ax = sub.subplots()
        style_axes(ax)
        for name, h in per_activation.items():
            x, y = _thin(smooth(h.loss, window), None)
            ax.plot(x, y, **_line_style(name), markevery=_every(len(x), name, 6),
                    label=f"{name}: {pct(h.test_acc[-1], 1)}")
        _apply_panel(ax, "loss", title=setting)
        if ylim:
            ax.set_ylim(*ylim)
        sub.legend(*ax.get_legend_handles_labels(), loc="outside lower center", title="final test accuracy")
    fig.suptitle(f"Training loss, moving average over {window} iterations")
    return fig
