"""Figures: one style for all of them, the practical's three panels (drawn live during training and once at
the end, from one definition), and the per-layer figures of notebooks 05 and 06.

Readable on a lab screen.  JupyterLab shows a figure in a column about 1000 px wide and shrinks anything
wider; the inline backend draws at the figure's dpi, 100.  So every figure here is at most ``FIG_WIDTH``
= 9.8 in wide (1000 px with the inline margins: shown at its own size) and its texts are 12 pt (titles
13 pt): shown at 12 pt.
``STYLE`` holds these settings and ``style()`` applies them; every figure function here and in
helpers/theory.py draws inside it (``@styled``) on a figure from ``subplots``.  Legends sit outside the
panels (``legend_below``), so they never hide a data point.  Each activation has one colour of the
Okabe–Ito palette (safe for colour-blind readers) *and* one marker (``ACTIVATION_STYLE``), used wherever
an activation is drawn.  tests/test_figures.py renders every figure and checks all of this.
"""

from __future__ import annotations

import functools
import io
import textwrap
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, TypeVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .model import ACTIVATIONS
from .report import pct, smooth
from .train import History, Progress

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


# ----------------------------------------------------------------------------- the practical's three panels

@dataclass(frozen=True)
class Panel:
    """What one panel shows: its title, axis labels (with units) and y scale."""

    title: str
    xlabel: str
    ylabel: str
    yscale: str = "linear"

    def apply(self, ax, title: str | None = None) -> None:
        ax.set(title=self.title if title is None else title, xlabel=self.xlabel, ylabel=self.ylabel,
               yscale=self.yscale)
        if self.xlabel == "epoch":
            integer_ticks(ax.xaxis)


PANELS = {
    "loss": Panel("Training loss", "iteration", "cross-entropy loss"),
    "accuracy": Panel("Accuracy per epoch", "epoch", "accuracy (%)"),
    "grad_norm": Panel("Gradient norm", "iteration", "‖∇θ L‖₂ (all parameters)", yscale="log"),
}
PRACTICAL_PANELS = ("loss", "accuracy", "grad_norm")
# How each kind of line is drawn; the legend's key uses the same dicts.
FAINT = {"alpha": 0.25, "linewidth": 0.8}  # single iterations
BOLD = {"linewidth": 2.0}  # moving average (with the activation's marker)
TRAIN = {"linestyle": "-"}  # accuracy on the training images during the epoch (filled marker)
TEST = {"linestyle": "--", "markerfacecolor": "white"}  # accuracy on the test images (open marker)
KEY_COLOR = "0.3"


def _thin(values: list[float], most: int | None) -> tuple[list[int], list[float]]:
    """(iterations, values), keeping at most ``most`` evenly spaced points (faster to draw)."""
    step = 1 if most is None else max(1, len(values) // most)
    return list(range(1, len(values) + 1, step)), values[::step]


def _panel_lines(axes: Mapping[str, object], name: str, faint: bool) -> dict[str, Line2D]:
    """The (empty) lines of one activation in the panels ``axes`` ({panel: axes}), in their styles."""
    s, lines = _line_style(name), {}
    for key in ("loss", "grad_norm"):
        if key in axes:
            if faint:
                lines[f"{key} raw"] = axes[key].plot([], [], color=s["color"], **FAINT, label=f"_{name}, single")[0]
            lines[key] = axes[key].plot([], [], **s, **BOLD, label=name)[0]
    if "accuracy" in axes:
        lines["train"] = axes["accuracy"].plot([], [], **s, **TRAIN, label=f"{name} train")[0]
        lines["test"] = axes["accuracy"].plot([], [], **s, **TEST, label=f"{name} test")[0]
    return lines


def _set_panel_data(lines: Mapping[str, Line2D], name: str, run: History, window: int, most: int | None) -> None:
    """Put one run's numbers into its lines (the live figure calls this at every redraw)."""
    for key, values in (("loss", run.loss), ("grad_norm", run.grad_norm)):
        if f"{key} raw" in lines:
            lines[f"{key} raw"].set_data(*_thin(values, most))
        if key in lines:
            x, y = _thin(smooth(values, window), most)
            lines[key].set_data(x, y)
            lines[key].set_markevery(_every(len(x), _index(name)))
    if "train" in lines:
        epochs = list(range(1, len(run.train_acc) + 1))
        lines["train"].set_data(epochs, [100 * a for a in run.train_acc])
        lines["test"].set_data(epochs[:len(run.test_acc)], [100 * a for a in run.test_acc])


def _panel_key(panels: Sequence[str], window: int, faint: bool) -> list[tuple[Line2D, str]]:
    """Legend entries saying what the kinds of line mean."""
    key = []
    if {"loss", "grad_norm"} & set(panels):
        if faint:
            key.append((Line2D([], [], color=KEY_COLOR, **FAINT), "single iterations"))
        key.append((Line2D([], [], color=KEY_COLOR, **BOLD), f"moving average, {window} iterations"))
    if "accuracy" in panels:
        key.append((Line2D([], [], color=KEY_COLOR, marker="o", **TRAIN), "train"))
        key.append((Line2D([], [], color=KEY_COLOR, marker="o", **TEST), "test"))
    return key


@styled
def draw_panels(axes, runs: Mapping[str, History], window: int = 50, most: int | None = None,
                panels: Sequence[str] = PRACTICAL_PANELS, faint: bool = True, legend: bool = True) -> None:
    """Fill the ``panels`` (default: loss vs iteration, accuracy vs epoch, gradient norm vs iteration) on ``axes``.

    Faint lines: single iterations (``faint=False``: none); bold: their moving average over ``window``;
    ``most`` caps the points drawn per line.  The legend goes under the panels.
    """
    axes = dict(zip(panels, axes))
    for key, ax in axes.items():
        ax.clear()
        style_axes(ax)
        PANELS[key].apply(ax)
    for name, run in runs.items():
        _set_panel_data(_panel_lines(axes, name, faint), name, run, window, most)
    for ax in axes.values():
        ax.relim()
        ax.autoscale_view()
    if legend and runs:
        fig = next(iter(axes.values())).figure
        legend_below(fig, [activation_handles(list(runs), **BOLD), _panel_key(panels, window, faint)])


@styled
def plot_comparison(runs: Mapping[str, History], window: int = 50, panels: Sequence[str] = PRACTICAL_PANELS,
                    faint: bool = True) -> Figure:
    """The practical's panels for one or more runs (faint: single iterations; bold: moving average)."""
    fig, axes = subplots(1, len(panels), height=4.6 if len(runs) <= 4 else 5.0, squeeze=False)
    draw_panels(list(axes.flat), runs, window, panels=panels, faint=faint)
    return fig


def figure_png(fig: Figure, dpi: int = INLINE_DPI, compress_level: int = 6) -> bytes:
    """The figure as PNG bytes (``compress_level`` 0-9: higher is smaller and slower)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": compress_level})
    return buffer.getvalue()


class LivePlot:
    """The engine's callback that redraws the three panels in place *during* training.

    It shows PNG images through ``display(..., display_id=True)`` and ``handle.update``,
    which works in JupyterLab, classic Notebook, VS Code, Colab and under nbval/nbclient.
    Redraws are throttled: at least ``min_interval`` seconds apart, and drawing may take
    at most ``max_share`` of the time trained so far.  The lines are created once and only
    their data change, and each redraw draws once, which keeps it near 0.1 s; the layout is
    computed only when the lines appear (and if the iteration count gains a digit).  Panels,
    line styles and legend are ``plot_comparison``'s (``PANELS``, ``_panel_lines``): at the end
    of training it is the static figure, thinned to ``most`` points per line, its x axes spanning
    the whole training from the start.  The PNG is ``FIG_WIDTH`` wide at ``dpi``: shown at its
    own size, not shrunk.  Outside Jupyter it still draws (so its cost can be measured) but
    shows nothing.
    """

    dpi = INLINE_DPI

    def __init__(self, min_interval: float = 1.0, max_share: float = 0.04, window: int = 50,
                 most: int = 500) -> None:
        self.min_interval, self.max_share, self.window, self.most = min_interval, max_share, window, most
        self.fig, axes = subplots(1, len(PRACTICAL_PANELS), height=4.6, pyplot=False)
        self.fig.set_dpi(self.dpi)  # the canvas is drawn at the PNG's resolution
        self.axes = list(axes)
        self.panels = dict(zip(PRACTICAL_PANELS, self.axes))
        with style():
            for key, ax in self.panels.items():
                PANELS[key].apply(ax)
            self.status = self.fig.suptitle(" ")
        self.lines: dict[str, dict] = {}
        self.laid_out_for: tuple | None = None
        self.handle = None
        self.last = float("-inf")
        self.updates, self.draw_seconds = 0, 0.0
        self.redraw({}, "waiting for the first iterations…")  # shows the empty panels at once
        self.updates, self.draw_seconds = 0, 0.0  # (that first draw also warms matplotlib up)
        self.start = time.perf_counter()

    def __call__(self, progress: Progress) -> None:
        now = time.perf_counter()
        too_soon = now - self.last < self.min_interval
        too_costly = self.draw_seconds > self.max_share * (now - self.start)
        if progress.iteration < progress.total_iterations and (too_soon or too_costly):
            return
        self.redraw(progress.runs, f"epoch {progress.epoch}, iteration {progress.iteration}"
                                        f" of {progress.total_iterations}", progress.total_iterations)

    def _legend(self) -> None:
        with style():
            for legend in list(self.fig.legends):
                legend.remove()
            legend_below(self.fig, [activation_handles(list(self.lines), **BOLD),
                                    _panel_key(PRACTICAL_PANELS, self.window, True)])

    def redraw(self, runs: Mapping[str, History], status: str = "", total_iterations: int | None = None) -> None:
        """Draw now and send the picture to the notebook output.

        With ``total_iterations`` the x axes span the whole training from the start (the curves grow to the
        right, and the layout never has to change); without, they fit the data so far.
        """
        began = time.perf_counter()
        new = [name for name in runs if name not in self.lines]
        for name in new:
            with style():
                self.lines[name] = _panel_lines(self.panels, name, faint=True)
        if new:
            self._legend()
        for name, run in runs.items():
            _set_panel_data(self.lines[name], name, run, self.window, self.most)
        per_epoch = max((run.iterations_per_epoch for run in runs.values()), default=0)
        for key, ax in self.panels.items():
            ax.relim()
            ax.autoscale_view(scalex=not total_iterations or key == "accuracy" and not per_epoch)
            if total_iterations and key != "accuracy":
                ax.set_xlim(-0.02 * total_iterations, 1.02 * total_iterations)
            elif total_iterations and per_epoch:
                ax.set_xlim(0.6, -(-total_iterations // per_epoch) + 0.4)
        self.status.set_text(status)
        # The layout (constrained) is computed while drawing, and only when the legend changed or the iteration count
        # gained a digit (the last x tick label sticks out further); in between the panels stay put (faster).  The
        # y tick labels training brings later are no wider than the first frames' ("−0.04", "2×10⁰").
        seen = total_iterations or max((len(run.loss) for run in runs.values()), default=0)
        laid_out_for = (tuple(self.lines), len(str(seen)))
        if laid_out_for != self.laid_out_for:
            self.fig.set_layout_engine("constrained")
            self.laid_out_for = laid_out_for
        self.fig.canvas.draw()
        self.fig.set_layout_engine("none")
        self._show(self._png())
        self.updates += 1
        self.last = time.perf_counter()
        self.draw_seconds += self.last - began

    def _png(self) -> bytes:
        """The frame just drawn as PNG bytes, without drawing it again (fast compression: a frame lives a second)."""
        from PIL import Image

        width, height = self.fig.canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBA", (width, height), self.fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _show(self, png: bytes) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:
            return
        if get_ipython() is None:
            return
        if self.handle is None:
            self.handle = display(Image(data=png, format="png"), display_id=True)
        else:
            self.handle.update(Image(data=png, format="png"))


# ----------------------------------------------------------------------------- per-layer curves (notebooks 05, 06)

def layer_color(i: int, n: int):
    """The colour of layer ``i`` (0 = input side) of ``n``: viridis from dark purple to light green (its pale
    yellow end is left out: too faint on a projector)."""
    return plt.get_cmap(LAYER_CMAP)(0.85 * i / max(1, n - 1))


def draw_layer_curves(ax, series, x=None, window: int | None = None, label: str = "layer {i}", fmt: str = "-",
                      **style) -> list:
    """One line per layer on ``ax``, input side first, coloured along viridis (dark: layer 1, light green: the last).

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


def _handles_of(ax) -> list[tuple]:
    handles, labels = ax.get_legend_handles_labels()
    return list(zip(handles, labels))


def _panel_width(ncols: int, width: float = FIG_WIDTH) -> float:
    return (width - 0.7 * ncols) / ncols  # about: the figure less each panel's y tick labels and label


@styled
def plot_layer_norms(runs: Mapping[str, History], title: str, window: int = 10) -> Figure:
    """Per activation, each Linear layer's weight-gradient norm per iteration (moving average), log scale,
    with the global norm dashed."""
    fig, axes = subplots(1, len(runs), height=4.8, sharey=True, squeeze=False)
    axes = list(axes.flat)
    for ax, (name, h) in zip(axes, runs.items()):
        draw_layer_curves(ax, zip(*h.layer_grad_norms), window=window)
        ax.plot(smooth(h.grad_norm, window), color="black", linestyle="--", linewidth=1.5, label="global norm")
        ax.set(title=name, xlabel="iteration", yscale="log")
    axes[0].set_ylabel(f"‖∂L/∂W‖₂ (moving average, {window} it.)")
    fig.suptitle(wrap(title, FIG_WIDTH))
    legend_below(fig, [_handles_of(axes[0])])
    return fig


def _measured(name: str) -> str:
    return "dead units" if name == "ReLU" else "saturated values"


@styled
def plot_saturation_during_training(curve: Mapping[str, list[tuple[int, list[float]]]]) -> Figure:
    """Per activation, the saturated (Sigmoid, Tanh) or dead (ReLU) share of each hidden layer against the
    iteration, from ``flow.saturation_during_training``."""
    fig, axes = subplots(1, len(curve), height=4.6, sharey=True, squeeze=False)
    for ax, (name, points) in zip(axes.flat, curve.items()):
        per_layer = zip(*[[100 * v for v in values] for _, values in points])
        draw_layer_curves(ax, per_layer, x=[i for i, _ in points], fmt="o-", ms=4)
        ax.set(title=name, xlabel="iteration", ylabel=f"{_measured(name)} (%)")
    fig.suptitle("Saturated values (Sigmoid, Tanh) or dead units (ReLU) of each hidden layer during training")
    legend_below(fig, [_handles_of(axes.flat[0])])
    return fig


PROFILE_STYLES = ("o:", "s--", "D-")


@styled
def plot_layer_profiles(profiles: Mapping[str, Mapping[str, list[float]]],
                        title: str | Mapping[str, str] = "{name}", *, ylabel: str | None = None,
                        yscale: str | None = None, percent: bool = False,
                        styles: tuple[str, ...] = PROFILE_STYLES, suptitle: str | None = None) -> Figure:
    """One panel per activation, one line per setting: a value per hidden layer (x: layer 1, 2, …).

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
        key.append((Line2D([], [], color=KEY_COLOR, marker=fmt[0], linestyle=fmt[1:]), setting))
    if suptitle:
        fig.suptitle(wrap(suptitle, FIG_WIDTH))
    legend_below(fig, [key])
    return fig


def plot_saturation_by_stage(saturation: Mapping[str, Mapping[str, list[float]]]) -> Figure:
    """``plot_layer_profiles`` of the saturated / dead share per hidden layer, one line per stage of training."""
    names = list(next(iter(saturation.values())))
    titles = {name: "ReLU: dead units\n(0 for every image measured)" if name == "ReLU" else f"{name}: {_measured(name)}"
              for name in names}
    return plot_layer_profiles(saturation, titles, ylabel="saturated or dead (%)", percent=True)


@styled
def plot_activation_histograms(outputs: Mapping[str, Mapping[str, Sequence[torch.Tensor]]],
                               layers: Sequence[int] = (1, 3, 5), bins: int = 60) -> Figure:
    """Histograms (density, log scale) of the hidden layers' outputs: one column per activation, one row per
    stage. ``outputs[name][stage]`` holds one tensor per hidden layer (``flow.capture_activations``);
    ``layers`` picks which (1 = input side)."""
    names = list(outputs)
    stages = list(next(iter(outputs.values())))
    fig, axes = subplots(len(stages), len(names), height=3.0 * len(stages) + 0.8, squeeze=False)
    styles = ("-", "--", ":", "-.")
    for col, name in enumerate(names):
        for row, stage in enumerate(stages):
            ax, outs = axes[row, col], outputs[name][stage]
            for k, layer in enumerate(layers):
                ax.hist(outs[layer - 1].flatten().numpy(), bins=bins, histtype="step", density=True, linewidth=1.8,
                        color=layer_color(layer - 1, len(outs)), linestyle=styles[k % len(styles)],
                        label=f"layer {layer}")
            ax.set(title=f"{name}, {stage}", yscale="log", xlabel="activation value", ylabel="density")
    key = [(Line2D([], [], color=layer_color(layer - 1, len(outputs[names[0]][stages[0]])),
                   linestyle=styles[k % len(styles)]), f"layer {layer}") for k, layer in enumerate(layers)]
    legend_below(fig, [key])
    return fig


@styled
def plot_depth_sweep(init_depths: Sequence[int], first_layer_norm: Mapping[str, Sequence[float]],
                     ratio: Mapping[str, Sequence[float]], train_depths: Sequence[int],
                     test_acc: Mapping[str, Sequence[float]], chance: float = 0.1) -> Figure:
    """Three panels against the number of hidden layers: the first layer's gradient norm and the first/last-layer
    ratio at initialisation (at ``init_depths``), and the test accuracy (fractions) after training (at
    ``train_depths``)."""
    fig, (a1, a2, a3) = subplots(1, 3, height=4.6)
    for n in first_layer_norm:
        s = _line_style(n)
        a1.plot(init_depths, first_layer_norm[n], "-", **s, label=n)
        a2.plot(init_depths, ratio[n], "-", **s, label=n)
        a3.plot(train_depths, [100 * v for v in test_acc[n]], "-", **s, label=n)
    a1.set(title="Layer 1, at initialisation", ylabel="‖∂L/∂W₁‖₂", yscale="log")
    a2.set(title="Layer 1 / last, at initialisation", ylabel="‖∂L/∂W₁‖₂ / ‖∂L/∂W_last‖₂",
           yscale="log")
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
    """One panel per setting (e.g. optimizer): the training loss (moving average) of each activation, with its
    final test accuracy in the legend under the panel."""
    fig = plt.figure(figsize=(FIG_WIDTH, 5.5), layout="constrained")
    subfigs = fig.subfigures(1, len(runs), wspace=0.02)
    for sub, (setting, per_activation) in zip(np.ravel(subfigs), runs.items()):
        ax = sub.subplots()
        style_axes(ax)
        for name, h in per_activation.items():
            x, y = _thin(smooth(h.loss, window), None)
            ax.plot(x, y, **_line_style(name), markevery=_every(len(x), _index(name), 6),
                    label=f"{name}: {pct(h.test_acc[-1], 1)}")
        PANELS["loss"].apply(ax, title=setting)
        if ylim:
            ax.set_ylim(*ylim)
        sub.legend(*ax.get_legend_handles_labels(), loc="outside lower center", title="final test accuracy")
    fig.suptitle(f"Training loss, moving average over {window} iterations")
    return fig


@styled
def plot_init_comparison(accuracy: Mapping[str, Mapping[str, float]], ratio: Mapping[str, Mapping[str, float]],
                         title: str = "10 hidden layers, 1 short epoch") -> Figure:
    """Bars per initialisation (x) and activation (colour and hatch): the test accuracy (fractions) and the
    first/last-layer gradient ratio at initialisation."""
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
    """The gradient reaching layer 1 at initialisation against the depth, one line per gain of the init."""
    fig, ax = subplots(height=4.6, width=8.5)
    for (gain, values), fmt, color in zip(first_layer.items(), PROFILE_STYLES, OTHER_COLORS):
        ax.plot(depths, values, fmt, color=color, label=f"{init} × {gain}")
    ax.set(title=f"Gradient reaching layer 1 at initialisation ({activation})", xlabel="hidden layers",
           ylabel="‖∂L/∂W₁‖₂", yscale="log", xticks=list(depths))
    legend_below(fig, [_handles_of(ax)])
    return fig


@styled
def plot_clipping(raw: History, clipped: History, first: int = 40,
                  labels: tuple[str, str] = ("no clipping", "clip_grad_norm = 1")) -> Figure:
    """The global gradient norm (before clipping) and the loss of two runs over the first ``first`` iterations."""
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
def plot_drift(plain: History, fast: History, tolerance: float = 1e-4) -> Figure:
    """Notebook 03 §2: the plain loop's and the engine's loss per iteration, and how far apart they are (log scale)."""
    fig, (a1, a2) = subplots(1, 2, height=4.2)
    n = min(len(plain.loss), len(fast.loss))
    steps = range(1, n + 1)
    a1.plot(steps, plain.loss[:n], "-", color=OKABE_ITO["blue"], label="plain loop")
    a1.plot(steps, fast.loss[:n], "--", color=OKABE_ITO["orange"], label="engine")
    apart = [max(abs(p - q) / abs(q), 1e-9) for p, q in zip(plain.loss[:n], fast.loss[:n])]
    a2.plot(steps, apart, ".", color=OKABE_ITO["black"], markersize=3, label="|plain − engine| / engine (bottom edge: equal)")
    a2.axhline(6e-8, color=OKABE_ITO["bluish green"], linestyle=":", label="float32 rounding (6e-8)")
    a2.axhline(tolerance, color=OKABE_ITO["vermillion"], linestyle="--", label=f"{tolerance:.0e}: the drift mark")
    a1.set(title="Batch loss", xlabel="iteration", ylabel="cross-entropy loss")
    a2.set(title="Relative difference of the loss", xlabel="iteration", yscale="log", ylim=(1e-9, 1))
    legend_below(fig, [_handles_of(a1), _handles_of(a2)])
    return fig


@styled
def plot_seed_spread(seed_runs: Mapping[int, Mapping[str, History]], window: int = 20) -> Figure:
    """Mean ± standard deviation over seeds: the test accuracy per epoch and the gradient norm (moving average)."""
    seeds = list(seed_runs)
    names = list(seed_runs[seeds[0]])
    fig, (a1, a2) = subplots(1, 2, height=4.6)

    def mean_std(curves):
        t = torch.tensor([list(c) for c in curves], dtype=torch.float64)
        return t.mean(0), (t.std(0) if len(curves) > 1 else torch.zeros(t.shape[1], dtype=torch.float64))

    for n in names:
        s = _line_style(n)
        m, sd = mean_std([[100 * a for a in seed_runs[k][n].test_acc] for k in seeds])
        epochs = range(1, len(m) + 1)
        a1.plot(epochs, m, "-", **s, label=n)
        a1.fill_between(epochs, m - sd, m + sd, color=s["color"], alpha=0.2, linewidth=0)
        m, sd = mean_std([smooth(seed_runs[k][n].grad_norm, window) for k in seeds])
        iterations = range(1, len(m) + 1)
        a2.plot(iterations, m, "-", **s, markevery=_every(len(m), _index(n)), label=n)
        a2.fill_between(iterations, m - sd, m + sd, color=s["color"], alpha=0.2, linewidth=0)
    PANELS["accuracy"].apply(a1, title="Test accuracy per epoch")
    a1.set_ylabel("test accuracy (%)")
    PANELS["grad_norm"].apply(a2, title=f"Gradient norm (moving average, {window} it.)")
    fig.suptitle(f"Mean ± 1 standard deviation over {len(seeds)} seeds")
    band = (Patch(color=KEY_COLOR, alpha=0.2, linewidth=0), "± 1 standard deviation")
    legend_below(fig, [activation_handles(names), [band]])
    return fig


@styled
def plot_layer_gradients(history: History, title: str, window: int = 5) -> Figure:
    """One run's per-layer weight-gradient norms (moving average) against the iteration, log scale (the try-it
    panel of notebook 06)."""
    fig, ax = subplots(height=4.8)
    draw_layer_curves(ax, [list(col) for col in zip(*history.layer_grad_norms)], window=window)
    ax.set(yscale="log", xlabel="iteration", ylabel=f"‖∂L/∂W‖₂ (moving average, {window} it.)",
           title=wrap(title, FIG_WIDTH - 1))
    legend_below(fig, [_handles_of(ax)])
    return fig
