"""Notebook 07's figure: a plain deep network against the same network with batch norm or residual connections."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .._machinery.figure_style import OKABE_ITO, legend_below, style_axes, styled, subplots

_KIND_COLOR = {"plain": OKABE_ITO["vermillion"], "batchnorm": OKABE_ITO["blue"], "residual": OKABE_ITO["bluish green"]}
_KIND_LABEL = {"plain": "plain", "batchnorm": "batch norm", "residual": "residual"}
_KIND_HATCH = {"plain": "//", "batchnorm": "..", "residual": "xx"}
_STAGES = {"at initialisation": ":", "after the short run": "-"}


@styled
def plot_remedy(at_init: Mapping[str, Mapping[str, Sequence[float]]], after: Mapping[str, Mapping[str, Sequence[float]]],
                accuracy: Mapping[str, Mapping[str, float]], title: str, chance: float = 0.1) -> Figure:
    """Per activation, each Linear layer's gradient norm at init and after training, per kind; test accuracy (notebook 07).

    ``at_init[kind][activation]``: one norm per Linear layer (input side first); ``accuracy[kind][activation]``: a fraction.
    """
    kinds = list(at_init)
    names = list(at_init[kinds[0]])
    fig, axes = subplots(2, len(names), height=8.6, sharey="row",
                         gridspec_kw={"height_ratios": [3, 2]})
    for ax, name in zip(axes[0], names):
        for kind in kinds:
            for (stage, linestyle), values in zip(_STAGES.items(), (at_init[kind][name], after[kind][name])):
                ax.plot(range(1, len(values) + 1), values, linestyle, marker="o", markersize=4,
                        color=_KIND_COLOR[kind], label=f"{_KIND_LABEL[kind]}, {stage}")
        ax.set(title=name, yscale="log", xlabel="Linear layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    axes[0, 0].set_ylabel("‖∂L/∂W‖₂ (1 = input side)")
    grid = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    bars = fig.add_subplot(grid[1, :])
    style_axes(bars)
    xs, width = np.arange(len(names)), 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        where = xs + width * (k - (len(kinds) - 1) / 2)
        values = [100 * accuracy[kind][n] for n in names]
        bars.bar(where, values, width, color=_KIND_COLOR[kind], hatch=_KIND_HATCH[kind], edgecolor="white",
                 linewidth=0)
        for x, v in zip(where, values):
            bars.text(x, v + 2, f"{v:.1f}", ha="center", va="bottom")
    bars.axhline(100 * chance, color="0.4", linestyle="--", linewidth=1.5)
    bars.set(xticks=xs, xticklabels=names, ylim=(0, 115), xlabel="activation", ylabel="test accuracy (%)",
             title=f"Test accuracy after the short run (dashed: chance, {100 * chance:g} %)")
    bars.grid(False, axis="x")
    fig.suptitle(title)
    legend_below(fig, [[(Patch(facecolor=_KIND_COLOR[k], hatch=_KIND_HATCH[k], edgecolor="white"), _KIND_LABEL[k])
                        for k in kinds],
                       [(Line2D([], [], color="0.3", linestyle=s, marker="o", markersize=4), f"gradient norm {stage}")
                        for stage, s in _STAGES.items()]])
    return fig
