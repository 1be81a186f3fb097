"""The practical's three panels (notebooks 03, 04 and the command line): loss, accuracy per epoch, gradient norm,
drawn live during training (``LivePlot``) and once at the end (``plot_comparison``) from one definition; beyond the
practical, a fourth: the gradient norm of each layer's weights (``"layers"``)."""

from __future__ import annotations

import io
import time
from typing import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..history import History, Progress
from ..report import smooth
from .._machinery.figure_style import (INLINE_DPI, activation_handles, integer_ticks, legend_below, style, styled,
                                       subplots, _every, _line_style)

# ----------------------------------------------------------------------------- the practical's three panels

_PANELS = {  # what each panel shows: title, axis labels (with units), y scale
    "loss": ("Training loss", "iteration", "cross-entropy loss", "linear"),
    "accuracy": ("Accuracy per epoch", "epoch", "accuracy (%)", "linear"),
    "grad_norm": ("Gradient norm", "iteration", "‖∇θ L‖₂ (all parameters)", "log"),
    "layers": ("Gradient norm per layer", "iteration", "‖∂L/∂W‖₂ (one layer's weights)", "log"),
}
_PRACTICAL_PANELS = ("loss", "accuracy", "grad_norm")
# How each kind of line is drawn; the legend's key uses the same dicts.
_FAINT = {"alpha": 0.25, "linewidth": 0.8}  # single iterations
_BOLD = {"linewidth": 2.0}  # moving average (with the activation's marker)
_TRAIN = {"linestyle": "-"}  # accuracy on the training images during the epoch (filled marker)
_TEST = {"linestyle": "--", "markerfacecolor": "white"}  # accuracy on the test images (open marker)
_KEY_COLOR = "0.3"
_LAYER_DASHES = ("-", "-.", (0, (5, 1.5)), (0, (3, 1, 1, 1, 1, 1)))  # hidden layers 1, 2, …; the output layer: ":"


def _layer_key(n: int) -> list[tuple[dict, str]]:
    """Line style and name of each of ``n`` Linear layers, input side first (the per-layer panel's legend key)."""
    return [({"linestyle": ":" if i == n - 1 else _LAYER_DASHES[i % 4]},
             "output layer" if i == n - 1 else f"hidden layer {i + 1}") for i in range(n)]


def _layer_count(run: History) -> int:
    return len(run.layer_grad_norms[0]) if run.layer_grad_norms else len(run.config.get("hidden", ())) + 1


def _subplots(panels: Sequence[str], height: float, **kwargs):
    """One row for up to three panels, else two rows; the per-layer panel shares the global norm's y axis."""
    rows = 1 if len(panels) <= 3 else 2
    fig, axes = subplots(rows, -(-len(panels) // rows), height=height * (1.75 if rows == 2 else 1), squeeze=False,
                         **kwargs)
    axes = dict(zip(panels, axes.flat))
    if {"layers", "grad_norm"} <= set(axes):
        axes["layers"].sharey(axes["grad_norm"])
    return fig, axes


def _apply_panel(ax, key: str, title: str | None = None) -> None:
    """Give ``ax`` panel ``key``'s title (or ``title``), axis labels and y scale."""
    default, xlabel, ylabel, yscale = _PANELS[key]
    ax.set(title=default if title is None else title, xlabel=xlabel, ylabel=ylabel, yscale=yscale)
    if xlabel == "epoch":
        integer_ticks(ax.xaxis)


def _thin(values: list[float], most: int | None) -> tuple[list[int], list[float]]:
    """(iterations, values), keeping at most ``most`` evenly spaced points (faster to draw)."""
    step = 1 if most is None else max(1, len(values) // most)
    return list(range(1, len(values) + 1, step)), values[::step]


def _panel_lines(axes: Mapping[str, object], name: str, faint: bool, layers: int = 0) -> dict[str, Line2D]:
    """The (empty) lines of one activation in the panels ``axes`` ({panel: axes}), in their styles."""
    s, lines = _line_style(name), {}
    for i, (dash, _) in enumerate(_layer_key(layers) if "layers" in axes else []):
        lines[f"layer {i}"] = axes["layers"].plot([], [], **s, **_BOLD, **dash, label=f"_{name}, layer {i + 1}")[0]
    for key in (k for k in ("loss", "grad_norm") if k in axes):
        if faint:
            lines[f"{key} raw"] = axes[key].plot([], [], color=s["color"], **_FAINT, label=f"_{name}, single")[0]
        lines[key] = axes[key].plot([], [], **s, **_BOLD, label=name)[0]
    if "accuracy" in axes:
        lines["train"] = axes["accuracy"].plot([], [], **s, **_TRAIN, label=f"{name} train")[0]
        lines["test"] = axes["accuracy"].plot([], [], **s, **_TEST, label=f"{name} test")[0]
    return lines


def _set_panel_data(lines: Mapping[str, Line2D], name: str, run: History, window: int, most: int | None) -> None:
    """Put one run's numbers into its lines (the live figure calls this at every redraw)."""
    for key, values in (("loss", run.loss), ("grad_norm", run.grad_norm)):
        if f"{key} raw" in lines:
            lines[f"{key} raw"].set_data(*_thin(values, most))
        if key in lines:
            x, y = _thin(smooth(values, window), most)
            lines[key].set_data(x, y)
            lines[key].set_markevery(_every(len(x), name))
    for i, values in enumerate(zip(*run.layer_grad_norms) if "layer 0" in lines else []):
        if f"layer {i}" in lines:
            x, y = _thin(smooth(list(values), window), most)
            lines[f"layer {i}"].set_data(x, y)
            lines[f"layer {i}"].set_markevery(_every(len(x), name))
    if "train" in lines:
        epochs = list(range(1, len(run.train_acc) + 1))
        lines["train"].set_data(epochs, [100 * a for a in run.train_acc])
        lines["test"].set_data(epochs[:len(run.test_acc)], [100 * a for a in run.test_acc])


def _legend_groups(names: Sequence[str], panels: Sequence[str], window: int, faint: bool,
                   layers: int = 0) -> list[list[tuple]]:
    """The legend's groups: the activations, then what the kinds of line mean (the layers' styles on a row of their own)."""
    key = []
    if {"loss", "grad_norm", "layers"} & set(panels):
        if faint:
            key.append((Line2D([], [], color=_KEY_COLOR, **_FAINT), "single iterations"))
        key.append((Line2D([], [], color=_KEY_COLOR, **_BOLD), f"moving average, {window} iterations"))
    if "accuracy" in panels:
        key.append((Line2D([], [], color=_KEY_COLOR, marker="o", **_TRAIN), "train"))
        key.append((Line2D([], [], color=_KEY_COLOR, marker="o", **_TEST), "test"))
    return [activation_handles(list(names), **_BOLD), key,
            [(Line2D([], [], color=_KEY_COLOR, **_BOLD, **dash), label) for dash, label in _layer_key(layers)]
            if "layers" in panels else []]


@styled
def plot_comparison(runs: Mapping[str, History], window: int = 50, panels: Sequence[str] = _PRACTICAL_PANELS,
                    faint: bool = True) -> Figure:
    """The practical's panels for one or more runs (faint: single iterations; bold: moving average) (notebooks 04, 06).

    ``panels`` may add ``"layers"``: each layer's weight-gradient norm (moving average), beside the global norm."""
    fig, axes = _subplots(panels, height=4.6 if len(runs) <= 4 else 5.0)
    for key, ax in axes.items():
        _apply_panel(ax, key)
    layers = max(map(_layer_count, runs.values()), default=0)
    for name, run in runs.items():
        _set_panel_data(_panel_lines(axes, name, faint, layers), name, run, window, None)
    for ax in axes.values():
        ax.relim()
        ax.autoscale_view()
    if runs:
        legend_below(fig, _legend_groups(runs, panels, window, faint, layers))
    return fig


class LivePlot:
    """The engine's callback that redraws the three panels in place *during* training (notebooks 03, 04).

    It updates a PNG shown with ``display(..., display_id=True)`` (works in every Jupyter front end and nbval): at
    every epoch's end, and within an epoch at least ``min_interval`` s apart while drawing has taken at most
    ``max_share`` of the time trained so far; only the lines' data change (near 0.1 s a redraw).  ``layers=True`` adds
    the per-layer panel.  Panels, styles, legend: ``plot_comparison``'s.  Outside Jupyter it shows nothing.
    """

    dpi = INLINE_DPI

    def __init__(self, min_interval: float = 1.0, max_share: float = 0.04, window: int = 50,
                 most: int = 500, layers: bool = False) -> None:
        self.min_interval, self.max_share, self.window, self.most = min_interval, max_share, window, most
        self.fig, self.panels = _subplots(_PRACTICAL_PANELS + ("layers",) * layers, height=4.6, pyplot=False)
        self.fig.set_dpi(self.dpi)  # the canvas is drawn at the PNG's resolution
        self.axes = list(self.panels.values())
        with style():
            for key, ax in self.panels.items():
                _apply_panel(ax, key)
            self.status = self.fig.suptitle(" ")
        self.lines: dict[str, dict] = {}
        self.laid_out_for: tuple | None = None
        self.handle = None
        self.last = float("-inf")
        self.updates, self.draw_seconds, self.epochs_drawn = 0, 0.0, []  # epochs_drawn: each epoch's end, drawn
        self.redraw({}, "waiting for the first iterations…")  # shows the empty panels at once
        self.updates, self.draw_seconds = 0, 0.0  # (that first draw also warms matplotlib up)
        self.start = time.perf_counter()

    def __call__(self, progress: Progress) -> None:
        now = time.perf_counter()
        too_soon = now - self.last < self.min_interval
        too_costly = self.draw_seconds > self.max_share * (now - self.start)
        if not progress.epoch_end and (too_soon or too_costly):
            return
        self.redraw(progress.runs, f"epoch {progress.epoch}, iteration {progress.iteration}"
                                        f" of {progress.total_iterations}", progress.total_iterations)
        self.epochs_drawn += [progress.epoch] * progress.epoch_end

    def redraw(self, runs: Mapping[str, History], status: str = "", total_iterations: int | None = None) -> None:
        """Draw now and show it; with ``total_iterations`` the x axes span the whole training from the start."""
        began = time.perf_counter()
        new = [name for name in runs if name not in self.lines]
        with style():
            layers = max((_layer_count(runs[name]) for name in new), default=0)
            for name in new:
                self.lines[name] = _panel_lines(self.panels, name, True, layers)
            if new:
                for legend in list(self.fig.legends):
                    legend.remove()
                legend_below(self.fig, _legend_groups(self.lines, tuple(self.panels), self.window, True, layers))
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
        # The (constrained) layout is computed only when the legend changed or the iteration count gained a digit (the
        # last x tick label sticks out further): later y tick labels are no wider than the first ("−0.04", "2×10⁰").
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
