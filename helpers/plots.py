"""Figures: the practical's three panels, and a live figure that follows training as it runs."""

from __future__ import annotations

import io
import time
from typing import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .report import smooth
from .train import History, Progress

COLORS = {"Sigmoid": "tab:blue", "Tanh": "tab:orange", "ReLU": "tab:green", "LeakyReLU": "tab:olive",
          "ELU": "tab:purple", "GELU": "tab:red", "SiLU": "tab:brown"}


def _thin(values: list[float], most: int | None) -> tuple[list[int], list[float]]:
    """(iterations, values), keeping at most ``most`` evenly spaced points (faster to draw)."""
    step = 1 if most is None else max(1, len(values) // most)
    return list(range(1, len(values) + 1, step)), values[::step]


def draw_panels(axes, runs: Mapping[str, History], window: int = 50, most: int | None = None) -> None:
    """Fill three axes: loss vs iteration, accuracy vs epoch, gradient norm vs iteration.

    ``most`` caps the points drawn per line (the live plot uses it to redraw quickly).
    """
    ax_loss, ax_acc, ax_norm = axes
    for ax in axes:
        ax.clear()
    for name, run in runs.items():
        color = COLORS.get(name)
        for ax, values in ((ax_loss, run.loss), (ax_norm, run.grad_norm)):
            ax.plot(*_thin(values, most), color=color, alpha=0.2, linewidth=0.6)
            ax.plot(*_thin(smooth(values, window), most), color=color, label=name)
        epochs = range(1, len(run.train_acc) + 1)
        ax_acc.plot(epochs, [100 * a for a in run.train_acc], "o-", color=color, label=f"{name} train")
        if run.test_acc:
            ax_acc.plot(epochs, [100 * a for a in run.test_acc], "s--", color=color, label=f"{name} test")
    ax_loss.set(title="Training loss per iteration", xlabel="iteration", ylabel="cross-entropy loss")
    ax_acc.set(title="Accuracy per epoch", xlabel="epoch", ylabel="accuracy (%)")
    ax_norm.set(title="Global gradient L2 norm per iteration", xlabel="iteration", ylabel="‖∇θ L‖₂", yscale="log")
    ax_acc.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="upper right")  # "best" is slow: it scans every point


def plot_comparison(runs: Mapping[str, History], window: int = 50) -> Figure:
    """The practical's three panels for one or more runs (faint: every iteration; bold: moving average)."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), layout="constrained")
    draw_panels(axes, runs, window)
    return fig


def figure_png(fig: Figure, dpi: int = 80, compress_level: int = 6) -> bytes:
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
    their data change, which keeps a redraw near 0.1 s.  Outside Jupyter it still draws
    (so its cost can be measured) but shows nothing.
    """

    def __init__(self, min_interval: float = 1.0, max_share: float = 0.04, window: int = 50,
                 most: int = 500) -> None:
        self.min_interval, self.max_share, self.window, self.most = min_interval, max_share, window, most
        self.fig, self.axes = plt.subplots(1, 3, figsize=(15, 4.2))
        self.fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.84, wspace=0.2)  # fixed layout: fast
        plt.close(self.fig)  # we show PNGs ourselves; otherwise Jupyter draws the figure again at the end
        titles = [("Training loss per iteration", "iteration", "cross-entropy loss"),
                  ("Accuracy per epoch", "epoch", "accuracy (%)"),
                  ("Global gradient L2 norm per iteration", "iteration", "‖∇θ L‖₂ (moving average)")]
        for ax, (title, xlabel, ylabel) in zip(self.axes, titles):
            ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
            ax.grid(alpha=0.3)
        self.lines: dict[str, dict] = {}
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
                                        f" of {progress.total_iterations}")

    def _lines_for(self, name: str) -> dict:
        if name not in self.lines:
            color = COLORS.get(name)
            ax_loss, ax_acc, ax_norm = self.axes
            self.lines[name] = {
                "loss_raw": ax_loss.plot([], [], color=color, alpha=0.2, linewidth=0.6)[0],
                "loss": ax_loss.plot([], [], color=color, label=name)[0],
                "norm": ax_norm.plot([], [], color=color, label=name)[0],
                "train": ax_acc.plot([], [], "o-", color=color, label=f"{name} train")[0],
                "test": ax_acc.plot([], [], "s--", color=color, label=f"{name} test")[0],
            }
            for ax in self.axes:
                ax.legend(fontsize=8, loc="upper right")
        return self.lines[name]

    def redraw(self, runs: Mapping[str, History], status: str = "") -> None:
        """Draw now and send the picture to the notebook output."""
        began = time.perf_counter()
        for name, run in runs.items():
            lines = self._lines_for(name)
            lines["loss_raw"].set_data(*_thin(run.loss, self.most))
            lines["loss"].set_data(*_thin(smooth(run.loss, self.window), self.most))
            lines["norm"].set_data(*_thin(smooth(run.grad_norm, self.window), self.most))
            epochs = list(range(1, len(run.train_acc) + 1))
            lines["train"].set_data(epochs, [100 * a for a in run.train_acc])
            lines["test"].set_data(epochs[:len(run.test_acc)], [100 * a for a in run.test_acc])
        for ax in self.axes:
            ax.relim()
            ax.autoscale_view()
        self.fig.suptitle(status, fontsize=10)
        self._show(figure_png(self.fig, dpi=72, compress_level=1))  # a frame lives a second: encode it fast
        self.updates += 1
        self.last = time.perf_counter()
        self.draw_seconds += self.last - began

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

def draw_layer_curves(ax, series, x=None, window: int | None = None, label: str = "layer {i}", fmt: str = "-",
                      **style) -> list:
    """One line per layer on ``ax``, input side first, coloured along viridis (dark: layer 1, yellow: the last).

    ``series`` holds one sequence of values per layer; ``x`` the shared x values (default 0, 1, 2, …);
    ``window`` smooths each line with a moving average; ``label`` is formatted with the layer number
    ``i`` (1 = input side); ``fmt`` and ``style`` go to ``ax.plot``. Returns the lines drawn.
    """
    series = [list(values) for values in series]
    cmap = plt.get_cmap("viridis")
    lines = []
    for i, values in enumerate(series):
        values = smooth(values, window) if window else values
        xs = list(x) if x is not None else list(range(len(values)))
        lines += ax.plot(xs, values, fmt, color=cmap(i / max(1, len(series) - 1)), label=label.format(i=i + 1),
                         **style)
    return lines


def plot_layer_norms(runs: Mapping[str, History], title: str, window: int = 10) -> Figure:
    """Per activation, each Linear layer's weight-gradient norm per iteration (moving average), log scale,
    with the global norm dashed."""
    fig, axes = plt.subplots(1, len(runs), figsize=(16, 4.2), sharey=True, layout="constrained", squeeze=False)
    axes = list(axes.flat)
    for ax, (name, h) in zip(axes, runs.items()):
        draw_layer_curves(ax, zip(*h.layer_grad_norms), window=window)
        ax.plot(smooth(h.grad_norm, window), "k--", linewidth=1, label="global norm")
        ax.set(title=f"{name}", xlabel="iteration", yscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("‖∂L/∂W_l‖₂ (moving average)")
    axes[-1].legend(fontsize=7, loc="lower right", ncol=2)
    fig.suptitle(title)
    return fig


def _measured(name: str) -> str:
    return "dead units" if name == "ReLU" else "saturated values"


def plot_saturation_during_training(curve: Mapping[str, list[tuple[int, list[float]]]]) -> Figure:
    """Per activation, the saturated (Sigmoid, Tanh) or dead (ReLU) share of each hidden layer against the
    iteration, from ``flow.saturation_during_training``."""
    fig, axes = plt.subplots(1, len(curve), figsize=(16, 4), sharey=True, layout="constrained", squeeze=False)
    for ax, (name, points) in zip(axes.flat, curve.items()):
        per_layer = zip(*[[100 * v for v in values] for _, values in points])
        draw_layer_curves(ax, per_layer, x=[i for i, _ in points], fmt="o-", ms=3)
        ax.set(title=f"{name}: {_measured(name)} during training", xlabel="iteration", ylabel="%")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def plot_layer_profiles(profiles: Mapping[str, Mapping[str, list[float]]],
                        title: str | Mapping[str, str] = "{name}", *, ylabel: str | None = None,
                        yscale: str | None = None, percent: bool = False,
                        styles: tuple[str, ...] = ("o:", "s--", "D-")) -> Figure:
    """One panel per activation, one line per setting: a value per hidden layer (x: layer 1, 2, …).

    ``profiles`` is {setting (e.g. "initialisation", "he"): {activation: [value per hidden layer]}};
    ``title`` is formatted with the activation's ``name`` (or maps each name to its title); ``percent``
    shows values × 100.
    """
    names = list(next(iter(profiles.values())))
    fig, axes = plt.subplots(1, len(names), figsize=(16, 4), sharey=True, layout="constrained", squeeze=False)
    for ax, name in zip(axes.flat, names):
        for (setting, values), style in zip(profiles.items(), styles):
            layers = range(1, len(values[name]) + 1)
            ax.plot(layers, [100 * v if percent else v for v in values[name]], style, label=setting,
                    color=COLORS.get(name))
        ax.set(title=title[name] if isinstance(title, Mapping) else title.format(name=name), xlabel="hidden layer",
               xticks=layers)
        if ylabel:
            ax.set_ylabel(ylabel)
        if yscale:
            ax.set_yscale(yscale)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_saturation_by_stage(saturation: Mapping[str, Mapping[str, list[float]]]) -> Figure:
    """``plot_layer_profiles`` of the saturated / dead share per hidden layer, one line per stage of training."""
    titles = {name: f"{name}: " + ("dead units (0 for every image measured)" if name == "ReLU" else _measured(name))
              for name in next(iter(saturation.values()))}
    return plot_layer_profiles(saturation, titles, ylabel="%", percent=True)
