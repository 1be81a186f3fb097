"""Per-layer figures shared by notebooks 05 and 06: one line per layer, input side dark, output side light."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .._machinery.figure_style import FIG_WIDTH, _handles_of, activation_style, legend_below, styled, subplots, wrap
from ..history import History
from ..report import smooth

_PROFILE_STYLES = ("o:", "s--", "D-")


def _layer_color(i: int, n: int):
    """Layer ``i`` (0 = input side) of ``n``: viridis, dark to light (its pale end left out: faint on a projector)."""
    return plt.get_cmap("viridis")(0.85 * i / max(1, n - 1))


def _draw_layer_curves(ax, series, x=None, window: int | None = None, label: str = "layer {i}", fmt: str = "-",
                      **style) -> list:
    """One line per layer on ``ax``, input side first, from dark to light along viridis (notebooks 05, 06)."""
    series = [list(values) for values in series]
    lines = []
    for i, values in enumerate(series):
        values = smooth(values, window) if window else values
        xs = list(x) if x is not None else list(range(len(values)))
        lines += ax.plot(xs, values, fmt, color=_layer_color(i, len(series)), label=label.format(i=i + 1), **style)
    return lines


@styled
def plot_layer_profiles(profiles: Mapping[str, Mapping[str, list[float]]],
                        title: str | Mapping[str, str] = "{name}", *, ylabel: str | None = None,
                        yscale: str | None = None, percent: bool = False,
                        styles: tuple[str, ...] = _PROFILE_STYLES, suptitle: str | None = None) -> Figure:
    """One panel per activation, one line per setting: a value per hidden layer (x: 1, 2, …) (notebooks 05, 06)."""
    names = list(next(iter(profiles.values())))
    fig, axes = subplots(1, len(names), height=4.6, sharey=True, squeeze=False)
    panel_width = (FIG_WIDTH - 0.7 * len(names)) / len(names)  # about: less each panel's y tick labels and label
    for ax, name in zip(axes.flat, names):
        for (setting, values), fmt in zip(profiles.items(), styles):
            layers = range(1, len(values[name]) + 1)
            ax.plot(layers, [100 * v if percent else v for v in values[name]], fmt, label=setting,
                    color=activation_style(name)["color"])
        text = title[name] if isinstance(title, Mapping) else title.format(name=name)
        ax.set(title=wrap(text, panel_width), xlabel="hidden layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        if ylabel and ax is axes.flat[0]:  # the panels share their y axis
            ax.set_ylabel(ylabel)
        if yscale:
            ax.set_yscale(yscale)
    if suptitle:
        fig.suptitle(wrap(suptitle, FIG_WIDTH))
    # the settings are told apart by marker and line style
    legend_below(fig, [[(Line2D([], [], color="0.3", marker=fmt[0], linestyle=fmt[1:]), setting)
                        for setting, fmt in zip(profiles, styles)]])
    return fig


@styled
def plot_layer_gradients(history: History, title: str, window: int = 5) -> Figure:
    """One run's per-layer weight-gradient norms (moving average) per iteration, log y (notebook 06, try-it panel)."""
    fig, ax = subplots(height=4.8)
    _draw_layer_curves(ax, zip(*history.layer_grad_norms), window=window)
    ax.set(yscale="log", xlabel="iteration", ylabel=f"‖∂L/∂W‖₂ (moving average, {window} it.)",
           title=wrap(title, FIG_WIDTH - 1))
    legend_below(fig, [_handles_of(ax)])
    return fig
