"""One style for every figure of the lab: size, fonts, colours, markers, legends (all notebooks' figures).

Machinery: you never need to open this file to follow a notebook; the figures themselves are in ``helpers/plots/``.

Readable on a lab screen.  JupyterLab shows a figure in a column about 1000 px wide and shrinks anything
wider; the inline backend draws at the figure's dpi, 100.  So every figure here is at most ``FIG_WIDTH``
= 9.8 in wide (1000 px with the inline margins: shown at its own size) and its texts are 12 pt (titles
13 pt): shown at 12 pt.
``STYLE`` holds these settings and ``style()`` applies them; every figure function of ``helpers/plots/``
draws inside it (``@styled``) on a figure from ``subplots``.  Legends sit outside the
panels (``legend_below``), so they never hide a data point.  Each activation has one colour of the
Okabe–Ito palette (safe for colour-blind readers) *and* one marker (``ACTIVATION_STYLE``), used wherever
an activation is drawn.  tests/test_figures.py renders every figure and checks all of this.
"""

from __future__ import annotations

import functools
import io
import textwrap
from contextlib import contextmanager
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
# 9.8 in: with the 0.1 in margins the inline backend adds (bbox_inches="tight"), 1000 px: shown at its own size,
# so 12 pt is shown at 12 pt
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
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT + 1,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT,
    "legend.fontsize": FONT_PT,
    "legend.title_fontsize": FONT_PT,
    "figure.titlesize": FONT_PT + 1,
    "figure.labelsize": FONT_PT,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": cycler(color=[OKABE_ITO[c] for c in ("blue", "orange", "bluish green", "vermillion",
                                                            "reddish purple", "sky blue", "black")]),
    "lines.linewidth": 2.0,
    "lines.markersize": 6.5,
    "legend.framealpha": 0.9,
    "hatch.linewidth": 1.0,
    "image.cmap": "viridis",
}
LAYER_CMAP = "viridis"  # layers, input side (dark) to output side (light): readable without colour vision too


@contextmanager
def style():
    """The lab's figure style (``STYLE``) inside the block: wrap a notebook's own figure code in it."""
    with plt.rc_context(STYLE):
        yield


def styled(draw: F) -> F:
    """Decorator: the figure function runs inside ``style()``."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with style():
            return draw(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def style_axes(ax) -> None:
    """Fix the tick labels' size and the grid's alpha on ``ax`` for good (matplotlib creates ticks lazily, perhaps
    when the figure is drawn after ``style()`` has ended)."""
    ax.tick_params(which="both", labelsize=STYLE["xtick.labelsize"], grid_alpha=STYLE["grid.alpha"])


def subplots(nrows: int = 1, ncols: int = 1, *, height: float, width: float = FIG_WIDTH, pyplot: bool = True,
             **kwargs):
    """(figure, axes) like ``plt.subplots``, in the lab's style: ``width`` × ``height`` inches, constrained layout.

    ``pyplot=False`` makes a figure that pyplot does not know (so Jupyter does not show it by itself).
    """
    with style():
        if pyplot:
            fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)
        else:
            fig = Figure(figsize=(width, height), dpi=INLINE_DPI, layout="constrained")
            FigureCanvasAgg(fig)
            axes = fig.subplots(nrows, ncols, **kwargs)
        for ax in np.ravel(axes):
            style_axes(ax)
    return fig, axes


def activation_style(name: str) -> dict[str, str]:
    """{"color", "marker", "hatch"} of an activation (any spelling); grey for a name the registry lacks."""
    for key, value in ACTIVATION_STYLE.items():
        if key.lower() == str(name).strip().lower():
            return dict(value)
    return {"color": "0.45", "marker": "o", "hatch": ""}


def integer_ticks(axis, most: int = 8) -> None:
    """Ticks at whole numbers only on ``axis`` (an epoch axis: there is no epoch 1.5), even when it spans less
    than one (one epoch, or none yet); at most about ``most`` of them."""
    axis.set_major_locator(MaxNLocator(nbins=most, integer=True, min_n_ticks=1))


def wrap(text: str, width_in: float, size: float = FONT_PT + 1) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``size`` pt (a title over a narrow panel)."""
    chars = max(8, int(width_in * 72 / (0.55 * size)))  # DejaVu Sans: about 0.55 em a character
    return "\n".join(textwrap.fill(line, chars, break_long_words=False) for line in text.split("\n"))


def _blank() -> Line2D:
    return Line2D([], [], linestyle="none")


def legend_below(fig, groups: Sequence[Sequence[tuple]], *, outside: bool = True, width: float | None = None,
                 **kwargs):
    """One legend under the panels, outside them, so it hides no data.

    ``groups`` holds lists of (handle, label); each group starts on a new row; as many columns as fit the
    figure's width.  ``outside=True`` lets constrained layout make room for it; ``False`` pins it to the
    figure's bottom edge (for a fixed layout).
    """
    groups = [list(g) for g in groups if g]
    width = width or fig.get_figwidth()
    em = FONT_PT / 72

    def entry_width(label: str) -> float:  # handle, gap, text (about 0.6 em a character), column spacing
        return (2.0 + 0.8 + 0.6 * max((len(s) for s in label.split("\n")), default=0) + 2.0) * em

    ncol = 1
    for n in range(max(len(g) for g in groups), 0, -1):
        rows = [g[i:i + n] for g in groups for i in range(0, len(g), n)]
        columns = [max((entry_width(r[c][1]) for r in rows if c < len(r)), default=0) for c in range(n)]
        if sum(columns) <= width - 0.3:
            ncol = n
            break
    rows = [g[i:i + ncol] + [(_blank(), "")] * (ncol - len(g[i:i + ncol])) for g in groups
            for i in range(0, len(g), ncol)]
    # matplotlib fills a legend column by column: reorder so that it reads row by row
    entries = [rows[r][c] for c in range(ncol) for r in range(len(rows))]
    handles, labels = [h for h, _ in entries], [lab for _, lab in entries]
    where = dict(loc="outside lower center") if outside else dict(loc="lower center", bbox_to_anchor=(0.5, 0.0))
    return fig.legend(handles, labels, ncol=ncol, fontsize=STYLE["legend.fontsize"], **where, **kwargs)


def activation_handles(names: Sequence[str], **line) -> list[tuple[Line2D, str]]:
    """Legend entries (handle, label) of activations in their colour and marker."""
    return [(Line2D([], [], **{**_line_style(name), **line}), name) for name in names]


def _line_style(name: str) -> dict:
    s = activation_style(name)
    return {"color": s["color"], "marker": s["marker"]}


def _every(n_points: int, index: int, markers: int = 9) -> tuple[int, int]:
    """``markevery`` for a long line: about ``markers`` markers, shifted per activation so they do not pile up."""
    step = max(1, n_points // markers)
    return (index * step // len(ACTIVATION_STYLE)) % step, step


def _index(name: str) -> int:
    names = [n.lower() for n in ACTIVATION_STYLE]
    return names.index(name.lower()) if name.lower() in names else 0


def figure_png(fig: Figure, dpi: int = INLINE_DPI, compress_level: int = 6) -> bytes:
    """The figure as PNG bytes (``compress_level`` 0-9: higher is smaller and slower)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": compress_level})
    return buffer.getvalue()

def _handles_of(ax) -> list[tuple]:
    handles, labels = ax.get_legend_handles_labels()
    return list(zip(handles, labels))


def _panel_width(ncols: int, width: float = FIG_WIDTH) -> float:
    return (width - 0.7 * ncols) / ncols  # about: the figure less each panel's y tick labels and label


def _measured(name: str) -> str:
    return "dead units" if name == "ReLU" else "saturated values"
