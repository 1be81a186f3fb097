"""One style for every figure of the lab: size, fonts, colours, markers, legends (all notebooks' figures).

Machinery: you never need to open this file to follow a notebook; the figures themselves are in ``helpers/plots/``.

Readable on a lab screen (JupyterLab's column is about 1000 px): at most ``FIG_WIDTH`` = 9.8 in wide, texts 12 pt.
Every figure of ``helpers/plots/`` draws inside ``style()`` (``@styled``) on a figure from ``subplots``, its legend
outside the panels (``legend_below``); each activation has one colour-blind-safe Okabe–Ito colour *and* one marker
(``ACTIVATION_STYLE``).  tests/test_figures.py checks all this.
"""

from __future__ import annotations

import io
import textwrap
from typing import Callable, Sequence, TypeVar

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..activations import ACTIVATIONS

F = TypeVar("F", bound=Callable)

# ----------------------------------------------------------------------------- one style for every figure

INLINE_DPI = 100  # what Jupyter's inline backend draws a figure at (its dpi, matplotlib's default)
COLUMN_PX = 1000  # JupyterLab's notebook column: a wider image is shrunk to fit
# 9.8 in + the inline backend's 0.1 in margins (bbox_inches="tight") = 1000 px: shown at its own size, 12 pt at 12 pt
FIG_WIDTH = COLUMN_PX / INLINE_DPI - 0.2
FONT_PT = 12  # every text; titles 13

# The Okabe–Ito palette (Okabe & Ito 2008): eight colours told apart with every common colour-vision deficiency.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}

# One colour, marker and bar hatch per activation: the colour alone never has to tell two activations apart.
ACTIVATION_STYLE: dict[str, dict[str, str]] = {
    "Sigmoid": {"color": OKABE_ITO["blue"], "marker": "o", "hatch": "//"},
    "Tanh": {"color": OKABE_ITO["orange"], "marker": "s", "hatch": ".."},
    "ReLU": {"color": OKABE_ITO["bluish green"], "marker": "^", "hatch": "xx"},
    "LeakyReLU": {"color": OKABE_ITO["vermillion"], "marker": "v", "hatch": "\\\\"},
    "ELU": {"color": OKABE_ITO["reddish purple"], "marker": "D", "hatch": "--"},
    "GELU": {"color": OKABE_ITO["sky blue"], "marker": "P", "hatch": "++"},
    "SiLU": {"color": OKABE_ITO["black"], "marker": "X", "hatch": "oo"},
}
assert list(ACTIVATION_STYLE) == list(ACTIVATIONS), "one style per activation of the registry, in its order"
COLORS = {name: s["color"] for name, s in ACTIVATION_STYLE.items()}  # the colours alone (older code uses them)
# Other lines (settings, gains, clipping), in order: Okabe–Ito without the activations' first three colours.
OTHER_COLORS = [OKABE_ITO[c] for c in ("vermillion", "reddish purple", "sky blue", "black")]

STYLE = {
    "figure.dpi": INLINE_DPI,
    "figure.figsize": (FIG_WIDTH, 4.5),
    **dict.fromkeys(("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize",
                     "legend.title_fontsize", "figure.labelsize"), FONT_PT),
    **dict.fromkeys(("axes.titlesize", "figure.titlesize"), FONT_PT + 1),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": cycler(color=list(COLORS.values())),  # lines without a style of their own: activations' order
    "lines.linewidth": 2.0,
    "lines.markersize": 6.5,
    "legend.framealpha": 0.9,
    "hatch.linewidth": 1.0,
    "image.cmap": "viridis",
}


def style():
    """The lab's figure style (``STYLE``) inside the block: wrap a notebook's own figure code in it."""
    return plt.rc_context(STYLE)


def styled(draw: F) -> F:
    """Decorator: the figure function runs inside ``style()`` (a fresh one at each call)."""
    return style()(draw)


def style_axes(ax) -> None:
    """Fix tick label size and grid alpha on ``ax`` for good (ticks are made lazily, perhaps after ``style()``)."""
    ax.tick_params(which="both", labelsize=STYLE["xtick.labelsize"], grid_alpha=STYLE["grid.alpha"])


def subplots(nrows: int = 1, ncols: int = 1, *, height: float, width: float = FIG_WIDTH, pyplot: bool = True,
             **kwargs):
    """(figure, axes) like ``plt.subplots``, styled, constrained; ``pyplot=False``: unknown to pyplot (not shown)."""
    with style():
        fig = (plt.figure if pyplot else Figure)(figsize=(width, height), layout="constrained")  # at INLINE_DPI
        if not pyplot:
            FigureCanvasAgg(fig)  # a canvas to draw on, without pyplot
        axes = fig.subplots(nrows, ncols, **kwargs)
        for ax in np.ravel(axes):
            style_axes(ax)
    return fig, axes


def activation_style(name: str) -> dict[str, str]:
    """{"color", "marker", "hatch"} of an activation (any spelling); grey for a name the registry lacks."""
    styles = {key.lower(): value for key, value in ACTIVATION_STYLE.items()}
    return dict(styles.get(str(name).strip().lower(), {"color": "0.45", "marker": "o", "hatch": ""}))


def integer_ticks(axis, most: int = 8) -> None:
    """At most about ``most`` ticks, at whole numbers only (no epoch 1.5), even on an axis spanning less than one."""
    axis.set_major_locator(MaxNLocator(nbins=most, integer=True, min_n_ticks=1))


def wrap(text: str, width_in: float, size: float = FONT_PT + 1) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``size`` pt (a title over a narrow panel)."""
    chars = max(8, int(width_in * 72 / (0.55 * size)))  # DejaVu Sans: about 0.55 em a character
    return "\n".join(textwrap.fill(line, chars, break_long_words=False) for line in text.split("\n"))


def legend_below(fig, groups: Sequence[Sequence[tuple]]):
    """One legend under the panels, outside them (it hides no data): ``groups`` of (handle, label), each on new rows."""
    groups = [list(g) for g in groups if g]
    em = FONT_PT / 72

    def entry_width(label: str) -> float:  # handle, gap, text (about 0.6 em a character), column spacing
        return (2.0 + 0.8 + 0.6 * max((len(s) for s in label.split("\n")), default=0) + 2.0) * em

    def rows(n: int) -> list[list[tuple]]:
        return [g[i:i + n] for g in groups for i in range(0, len(g), n)]

    def fits(n: int) -> bool:  # a column is as wide as its widest entry
        widths = [max(entry_width(r[c][1]) for r in rows(n) if c < len(r)) for c in range(n)]
        return sum(widths) <= fig.get_figwidth() - 0.3

    ncol = next((n for n in range(max(map(len, groups)), 0, -1) if fits(n)), 1)  # as many columns as fit
    padded = [r + [(Line2D([], [], linestyle="none"), "")] * (ncol - len(r)) for r in rows(ncol)]
    # matplotlib fills a legend column by column: reorder so that it reads row by row
    handles, labels = zip(*(padded[r][c] for c in range(ncol) for r in range(len(padded))))
    return fig.legend(handles, labels, ncol=ncol, loc="outside lower center", fontsize=STYLE["legend.fontsize"])


def activation_handles(names: Sequence[str], **line) -> list[tuple[Line2D, str]]:
    """Legend entries (handle, label) of activations in their colour and marker."""
    return [(Line2D([], [], **{**_line_style(name), **line}), name) for name in names]


def _line_style(name: str) -> dict:
    return {key: value for key, value in activation_style(name).items() if key != "hatch"}


def _every(n_points: int, name: str, markers: int = 9) -> tuple[int, int]:
    """``markevery`` for a long line: about ``markers`` markers, shifted per activation so they do not pile up."""
    names = [n.lower() for n in ACTIVATION_STYLE]
    index = names.index(name.lower()) if name.lower() in names else 0
    step = max(1, n_points // markers)
    return (index * step // len(ACTIVATION_STYLE)) % step, step


def figure_png(fig: Figure, dpi: int = INLINE_DPI, compress_level: int = 6) -> bytes:
    """The figure as PNG bytes (``compress_level`` 0-9: higher is smaller and slower)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": compress_level})
    return buffer.getvalue()


def _handles_of(ax) -> list[tuple]:
    return list(zip(*ax.get_legend_handles_labels()))
