"""Per-layer figures shared by notebooks 05 and 06: one line per layer, input side dark, output side light."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .._machinery.figure_style import (FIG_WIDTH, LAYER_CMAP, _handles_of, _panel_width, activation_style,
                                       legend_below, styled, subplots, wrap)
from ..history import History
from ..report import smooth


def layer_color(i: int, n: int):
    """The colour of layer ``i`` (0 = input side) of ``n``: viridis from dark purple to light green (its pale (notebooks 05, 06)
    yellow end is left out: too faint on a projector)."""
    return plt.get_cmap(LAYER_CMAP)(0.85 * i / max(1, n - 1))


def draw_layer_curves(ax, series, x=None, window: int | None = None, label: str = "layer {i}", fmt: str = "-",
                      **style) -> list:
    """One line per layer on ``ax``, input side first, coloured along viridis (dark: layer 1, light green: the last) (notebooks 05, 06).

    ``series`` holds one sequence of values per layer; ``x`` the shared x values (default 0, 1, 2, …);
    ``window`` smooths each line with a moving average; ``label`` is formatted with the layer number
    ``i`` (1 = input side); ``fmt`` and ``style`` go to ``ax.plot``. Returns the lines drawn.
    """
    series = [list(values) for values in series]
    lines = []
    for i, values in enumerate(series):
        values = smooth(values, window) if window else values
        xs = list(x) if x is not None else list(range(len(values)))
        lines += ax.plot(xs, values, fmt, color=layer_color(i, len(series)), label=label.format(i=i + 1), **style)
    return lines


PROFILE_STYLES = ("o:", "s--", "D-")


@styled
def plot_layer_profiles(profiles: Mapping[str, Mapping[str, list[float]]],
                        title: str | Mapping[str, str] = "{name}", *, ylabel: str | None = None,
                        yscale: str | None = None, percent: bool = False,
                        styles: tuple[str, ...] = PROFILE_STYLES, suptitle: str | None = None) -> Figure:
    """One panel per activation, one line per setting: a value per hidden layer (x: layer 1, 2, …) (notebooks 05, 06).

    ``profiles`` is {setting (e.g. "initialisation", "he"): {activation: [value per hidden layer]}};
    ``title`` is formatted with the activation's ``name`` (or maps each name to its title); ``percent``
    shows values × 100. The settings are told apart by marker and line style (legend under the panels).
    """
    names = list(next(iter(profiles.values())))
    fig, axes = subplots(1, len(names), height=4.6, sharey=True, squeeze=False)
    key = []
    for ax, name in zip(axes.flat, names):
        for (setting, values), fmt in zip(profiles.items(), styles):
            layers = range(1, len(values[name]) + 1)
            ax.plot(layers, [100 * v if percent else v for v in values[name]], fmt, label=setting,
                    color=activation_style(name)["color"])
        text = title[name] if isinstance(title, Mapping) else title.format(name=name)
        ax.set(title=wrap(text, _panel_width(len(names))), xlabel="hidden layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        if ylabel and ax is axes.flat[0]:  # the panels share their y axis
            ax.set_ylabel(ylabel)
        if yscale:
            ax.set_yscale(yscale)
    for (setting, _), fmt in zip(profiles.items(), styles):
        key.append((Line2D([], [], color="0.3", marker=fmt[0], linestyle=fmt[1:]), setting))
    if suptitle:
        fig.suptitle(wrap(suptitle, FIG_WIDTH))
    legend_below(fig, [key])
    return fig


@styled
def plot_layer_gradients(history: History, title: str, window: int = 5) -> Figure:
    """One run's per-layer weight-gradient norms (moving average) against the iteration, log scale (the try-it (notebook 06, try-it panel)
    panel of notebook 06)."""
    fig, ax = subplots(height=4.8)
    draw_layer_curves(ax, [list(col) for col in zip(*history.layer_grad_norms)], window=window)
    ax.set(yscale="log", xlabel="iteration", ylabel=f"‖∂L/∂W‖₂ (moving average, {window} it.)",
           title=wrap(title, FIG_WIDTH - 1))
    legend_below(fig, [_handles_of(ax)])
    return fig


