"""Every figure the helpers make, rendered from small synthetic runs and checked for readability on a lab screen.

For each figure (every public ``-> Figure`` function of helpers/plots/, and the
live figure after a redraw) the checks are:

* every axes that shows data has an x- and a y-label (a label shared by axes that share that axis counts);
* every text (titles, axis labels, tick labels, legend entries, figure titles) is at least 11 pt *as shown*:
  its size times dpi / 100 (the inline backend's dpi) times the browser's shrink factor, min(1, 1000 px /
  the image's width in pixels), since JupyterLab's notebook column is about 1000 px wide;
* an epoch axis shows whole epochs only;
* no legend's box (display coordinates, after drawing) contains a plotted point, a bar or a band of any axes;
* no two texts overlap, and a figure shown as a fixed-size PNG (the live figure) cuts no text off.

``test_the_checks_catch_a_bad_figure`` keeps the checks honest: a figure with each fault must fail each check.
"""

from __future__ import annotations

import inspect
import math
import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from helpers import plots, theory  # noqa: E402
from helpers.plots import diagnostics, notebook01, notebook02, notebook05, notebook06, notebook07, panels  # noqa: E402
from helpers._machinery import figure_style as S  # noqa: E402
from helpers.activations import ACTIVATIONS, PRACTICAL_ACTIVATIONS  # noqa: E402
from helpers.history import History, Progress  # noqa: E402

COLUMN_PX = 1000  # JupyterLab's notebook column: a wider image is shrunk to it
INLINE_DPI = 100  # the inline backend renders a figure at its dpi, matplotlib's default 100
MIN_PT = 11  # smallest readable text on a lab screen, in points as shown

# ----------------------------------------------------------------------------- synthetic runs


def synthetic_run(name: str, k: int = 0, epochs: int = 5, per_epoch: int = 120, layers: int = 3) -> History:
    """A run shaped like a real one: the loss falls, the norm is noisy, the accuracy ends near its top."""
    g = torch.Generator().manual_seed(k)
    n = epochs * per_epoch
    t = torch.arange(1, n + 1, dtype=torch.float64)
    loss = 2.3 * torch.exp(-t / 40) + 0.1 + 0.03 * k + 0.1 * torch.rand(n, generator=g, dtype=torch.float64)
    norm = 0.3 * (k + 1) * (1 + 2 * torch.exp(-t / 60)) * torch.exp(0.4 * torch.randn(n, generator=g,
                                                                                          dtype=torch.float64))
    layer_norms = [[v * 10 ** (-(layers - 1 - i) * (0.5 if k == 0 else 0.1)) for i in range(layers)]
                   for v in norm.tolist()]
    train_acc = [0.97 - 0.1 * 0.5 ** e + 0.002 * k for e in range(epochs)]
    test_acc = [0.975 - 0.05 * 0.5 ** e + 0.002 * k for e in range(epochs)]
    return History(name, {"device": "cpu"}, loss.tolist(), norm.tolist(), layer_norms, train_acc, test_acc,
                   [0.1] * epochs, [1.0] * epochs, 5.0, per_epoch)


@pytest.fixture(scope="module")
def runs3() -> dict[str, History]:
    return {name: synthetic_run(name, k) for k, name in enumerate(PRACTICAL_ACTIVATIONS)}


@pytest.fixture(scope="module")
def runs7() -> dict[str, History]:
    return {name: synthetic_run(name, k, epochs=1, per_epoch=94) for k, name in enumerate(ACTIVATIONS)}


PROFILES = {"initialisation": {"Sigmoid": [0.1, 0.2, 0.3], "Tanh": [0.2, 0.1, 0.05], "ReLU": [0.3, 0.1, 0.01]},
            "after 2 epochs": {"Sigmoid": [0.3, 0.2, 0.1], "Tanh": [0.02, 0.1, 0.3], "ReLU": [0.1, 0.2, 0.3]}}
CURVE = {name: [(i, [0.1 * k + 0.01 * i, 0.05 * k + 0.02 * i]) for i in (0, 50, 100, 150)]
         for k, name in enumerate(PRACTICAL_ACTIVATIONS)}
CHAINS = [theory.Chain("Sigmoid", 1.0), theory.Chain("Sigmoid", 4.0), theory.Chain("Tanh", 1.0, 0.5),
          theory.Chain("ReLU", 1.0, 1.0), theory.Chain("ReLU", 1.5, 1.0), theory.Chain("ReLU", 0.5, 1.0)]


def histogram_outputs() -> dict:
    g = torch.Generator().manual_seed(0)
    return {name: {stage: [torch.randn(200, 16, generator=g) * (0.5 + i) for i in range(5)]
                   for stage in ("initialisation", "after 2 epochs")} for name in PRACTICAL_ACTIVATIONS}


def with_diagnostics(runs: dict[str, History], hidden: int = 2, every: int = 2, records: int = 47) -> dict[str, History]:
    """The runs with ``History.diagnostics`` as ``TrainConfig(diagnostics_every=every)`` records them (notebook 05 §5)."""
    from helpers._machinery.diagnostics import BINS, empty

    g = torch.Generator().manual_seed(1)
    out = {}
    for k, (name, h) in enumerate(runs.items()):
        d = empty(name, every, hidden)
        for r in range(records):
            d["iterations"].append(r * every)
            d["update_ratio"].append([10 ** (-1.3 - r / records - (2 - l) * k * 0.5) for l in range(hidden + 1)])
            shares = torch.softmax(torch.randn(hidden, BINS, generator=g) * (1 + r / 10), 1) * (0.5 if k == 2 else 1)
            d["histogram"].append(shares.tolist())
            d["flat_share"].append([0.5 if k == 2 else 0.03 * r / records] * hidden)
            d["flat_units"].append([0.4 if k == 2 else 0.0] * hidden)
        out[name] = History(name, h.config, h.loss, diagnostics=d)
    return out


def live(runs: dict[str, History], iterations: int | None = None, layers: bool = False):
    """The live figure after a redraw (``iterations``: as it looks that far into training; ``layers``: 4 panels)."""
    if iterations is not None:
        epochs = iterations // 120
        runs = {n: History(n, h.config, h.loss[:iterations], h.grad_norm[:iterations],
                           h.layer_grad_norms[:iterations], h.train_acc[:epochs], h.test_acc[:epochs])
                for n, h in runs.items()}
    plot = plots.LivePlot(layers=layers)
    plot.redraw(runs, f"epoch 1, iteration {iterations or 600} of 600")
    return plot.fig, getattr(plot, "dpi", 72), False  # a PNG at its own dpi, not cropped


def inline(fig):
    return fig, fig.dpi, True  # the inline backend: the figure's dpi, bbox_inches="tight"


def png(fig):
    return fig, INLINE_DPI, False  # figure_png: a fixed-size PNG at the default dpi


# name -> (what it needs -> (figure, dpi it is shown at, cropped to its tight box?))
FIGURES = {
    "plots.plot_comparison": lambda r3, r7, data: inline(plots.plot_comparison(r3)),
    "plots.plot_comparison, 7 activations, 2 panels": lambda r3, r7, data: inline(
        plots.plot_comparison(r7, window=20, panels=("loss", "grad_norm"), faint=False)),
    "plots.LivePlot": lambda r3, r7, data: live(r3),
    "plots.LivePlot, one activation": lambda r3, r7, data: live({"Sigmoid": r3["Sigmoid"]}),
    "plots.LivePlot, during epoch 1": lambda r3, r7, data: live(r3, iterations=60),
    "plots.LivePlot, during epoch 2": lambda r3, r7, data: live(r3, iterations=130),
    "plots.LivePlot, per layer": lambda r3, r7, data: live(r3, layers=True),
    "plots.LivePlot, per layer, one activation": lambda r3, r7, data: live({"ReLU": r3["ReLU"]}, layers=True),
    "plots.LivePlot, per layer, during epoch 1": lambda r3, r7, data: live(r3, iterations=60, layers=True),
    "plots.plot_comparison, per layer": lambda r3, r7, data: inline(
        plots.plot_comparison(r3, panels=("loss", "accuracy", "grad_norm", "layers"))),
    "plots.plot_layer_norms": lambda r3, r7, data: inline(plots.plot_layer_norms(
        r3, "Per-layer weight-gradient norms, 5 hidden layers, Adam (layer 1 = input side)")),
    "plots.plot_saturation_during_training": lambda r3, r7, data: inline(plots.plot_saturation_during_training(CURVE)),
    "plots.plot_layer_profiles": lambda r3, r7, data: inline(plots.plot_layer_profiles(
        PROFILES, "{name}", ylabel="variance of the activations", yscale="log",
        suptitle="Variance of each hidden layer's activations at initialisation, 10 hidden layers")),
    "plots.plot_saturation_by_stage": lambda r3, r7, data: inline(plots.plot_saturation_by_stage(PROFILES)),
    "plots.plot_activation_histograms": lambda r3, r7, data: inline(
        plots.plot_activation_histograms(histogram_outputs(), layers=(1, 3, 5))),
    "plots.plot_depth_sweep": lambda r3, r7, data: inline(plots.plot_depth_sweep(
        [2, 3, 4, 6, 8, 10, 15, 20], {n: [10 ** -k * 0.9 ** d for d in (2, 3, 4, 6, 8, 10, 15, 20)]
                                      for k, n in enumerate(PRACTICAL_ACTIVATIONS)},
        {n: [0.5 ** (d * (3 - k) / 3) for d in (2, 3, 4, 6, 8, 10, 15, 20)]
         for k, n in enumerate(PRACTICAL_ACTIVATIONS)},
        [2, 5, 10], {n: [0.95 - 0.01 * k * d for d in (2, 5, 10)] for k, n in enumerate(PRACTICAL_ACTIVATIONS)})),
    "plots.plot_loss_by_setting": lambda r3, r7, data: inline(plots.plot_loss_by_setting(
        {"SGD": r3, "SGD + momentum": r3, "Adam": r3}, window=20, ylim=(0, 2.5))),
    "plots.plot_init_comparison": lambda r3, r7, data: inline(plots.plot_init_comparison(
        {i: {n: 0.9 - 0.1 * k + 0.02 * j for k, n in enumerate(PRACTICAL_ACTIVATIONS)}
         for j, i in enumerate(("default", "xavier", "he"))},
        {i: {n: 10.0 ** (-k - j) for k, n in enumerate(PRACTICAL_ACTIVATIONS)}
         for j, i in enumerate(("default", "xavier", "he"))})),
    "plots.plot_gain_depth": lambda r3, r7, data: inline(plots.plot_gain_depth(
        (2, 4, 8, 12, 16), {g: [g ** d for d in (2, 4, 8, 12, 16)] for g in (0.7, 1.0, 1.4)})),
    "plots.plot_clipping": lambda r3, r7, data: inline(plots.plot_clipping(r3["ReLU"], r3["Tanh"], first=40)),
    "plots.plot_seed_spread": lambda r3, r7, data: inline(plots.plot_seed_spread(
        {s: {n: synthetic_run(n, k + s, epochs=3) for k, n in enumerate(PRACTICAL_ACTIVATIONS)} for s in (0, 1, 2)},
        window=20)),
    "plots.plot_layer_gradients": lambda r3, r7, data: png(plots.plot_layer_gradients(
        r3["Sigmoid"], "Sigmoid, depth 6, sgd, init default, lr 0.01: test accuracy 91.20 %", window=5)),
    "plots.plot_remedy": lambda r3, r7, data: inline(plots.plot_remedy(
        {k: {n: [10.0 ** (-j * (2 - i) * (k == "plain")) for j in range(11)] for i, n in enumerate(PRACTICAL_ACTIVATIONS)}
         for k in ("plain", "batchnorm")},
        {k: {n: [2 * 10.0 ** (-j * (2 - i) * (k == "plain")) for j in range(11)] for i, n in enumerate(PRACTICAL_ACTIVATIONS)}
         for k in ("plain", "batchnorm")},
        {"plain": {"Sigmoid": 0.1, "Tanh": 0.7, "ReLU": 0.33}, "batchnorm": {"Sigmoid": 0.88, "Tanh": 0.87, "ReLU": 0.99}},
        "10 hidden layers of 128: plain against batch norm (before each activation)")),
    "plots.plot_remedy, three kinds": lambda r3, r7, data: inline(plots.plot_remedy(
        {k: {n: [0.1 * (j + 1) for j in range(11)] for n in PRACTICAL_ACTIVATIONS} for k in ("plain", "batchnorm", "residual")},
        {k: {n: [0.2 * (j + 1) for j in range(11)] for n in PRACTICAL_ACTIVATIONS} for k in ("plain", "batchnorm", "residual")},
        {k: {n: 0.9 for n in PRACTICAL_ACTIVATIONS} for k in ("plain", "batchnorm", "residual")}, "three kinds")),
    "plots.plot_update_ratios": lambda r3, r7, data: inline(plots.plot_update_ratios(with_diagnostics(r3))),
    "plots.plot_update_ratios, 10 hidden layers": lambda r3, r7, data: inline(plots.plot_update_ratios(
        with_diagnostics(r3, hidden=10), "10 hidden layers of 128, Adam 10⁻³: update-to-weight ratio of each Linear "
        "layer (layer 1 = input side)")),
    "plots.plot_activation_heatmaps": lambda r3, r7, data: inline(plots.plot_activation_heatmaps(with_diagnostics(r3))),
    "plots.plot_activation_heatmaps, 3 of 10 layers": lambda r3, r7, data: inline(plots.plot_activation_heatmaps(
        with_diagnostics(r3, hidden=10), layers=(1, 5, 10), title="10 hidden layers of 128, Adam: hidden layers 1, 5, "
        "10 over training; beneath: the share of flat values")),
    "plots.plot_activations": lambda r3, r7, data: inline(plots.plot_activations()),
    "plots.plot_activations, all seven": lambda r3, r7, data: inline(plots.plot_activations(list(ACTIVATIONS))),
    "plots.plot_chain_gradients": lambda r3, r7, data: inline(plots.plot_chain_gradients(CHAINS, max_depth=20)),
    "plots._explorer_figure": lambda r3, r7, data: png(notebook01._explorer_figure("Tanh", 1.5)),
    "plots.plot_samples": lambda r3, r7, data: inline(plots.plot_samples(
        [(x, int(y)) for x, y in zip(data.train_x[:16], data.train_y[:16])], n=16)),
    "plots.plot_value_histograms": lambda r3, r7, data: inline(plots.plot_value_histograms(
        {"stored pixels (0 … 255)": (data.train_x[:50].clamp(-2, 2) + 2) * 63.75,
         "after ToTensor": (data.train_x[:50].clamp(-2, 2) + 2) / 4, "after Normalize": data.train_x[:50]})),
}

# ----------------------------------------------------------------------------- the checks


def _texts(fig, renderer) -> list:
    """(where, Text) for every visible, non-empty text of the figure, as drawn."""
    found, seen = [], set()

    def add(where, text):
        if text is not None and id(text) not in seen and text.get_visible() and text.get_text().strip():
            seen.add(id(text))
            found.append((where, text))

    for attr in ("_suptitle", "_supxlabel", "_supylabel"):
        add("figure title/label", getattr(fig, attr, None))
    for t in fig.texts:
        add("figure text", t)
    for legend in fig.legends:
        for t in [*legend.get_texts(), legend.get_title()]:
            add("figure legend", t)
    for n, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = f"axes {n} ({ax.get_title() or ax.get_ylabel()!r})"
        for t in (ax.title, ax._left_title, ax._right_title, *ax.texts):
            add(f"{where} title/text", t)
        if ax.axison:
            for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
                add(f"{where} {name}label", axis.label)
                for tick in axis._update_ticks():  # the ticks drawn, major and minor
                    for label in (tick.label1, tick.label2):
                        add(f"{where} {name} tick label", label)
        legend = ax.get_legend()
        if legend is not None:
            for t in [*legend.get_texts(), legend.get_title()]:
                add(f"{where} legend", t)
    return found


def _has_data(ax) -> bool:
    return ax.axison and bool(ax.lines or ax.patches or ax.collections or ax.images)


def _labelled(ax, which: str) -> bool:
    get = "get_xlabel" if which == "x" else "get_ylabel"
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    return any(getattr(other, get)().strip() for other in shared.get_siblings(ax))


def _data_points(ax, renderer) -> np.ndarray:
    """Display coordinates of every line vertex, patch corner and band vertex drawn inside the axes."""
    chunks = []
    for line in ax.lines:
        if line.get_visible() and len(line.get_xydata()):
            chunks.append(line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float)))
    for artist in [*ax.patches, *ax.collections]:
        if not artist.get_visible():
            continue
        paths = [artist.get_path()] if hasattr(artist, "get_path") else artist.get_paths()
        for path in paths:
            if len(path.vertices):
                chunks.append(artist.get_transform().transform(path.vertices))
        if hasattr(artist, "get_offsets") and len(artist.get_offsets()):
            chunks.append(artist.get_offset_transform().transform(artist.get_offsets()))
    if not chunks:
        return np.zeros((0, 2))
    points = np.concatenate(chunks)
    points = points[np.isfinite(points).all(axis=1)]
    box = ax.get_window_extent(renderer)
    inside = ((points[:, 0] >= box.x0 - 0.5) & (points[:, 0] <= box.x1 + 0.5)
              & (points[:, 1] >= box.y0 - 0.5) & (points[:, 1] <= box.y1 + 0.5))
    return points[inside]  # what lies outside the axes is clipped, not drawn


def _bars(ax, renderer) -> list:
    """Display boxes of the filled rectangles (bars) drawn in the axes, cut to the axes."""
    box = ax.get_window_extent(renderer)
    out = []
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_visible() and patch.get_fill():
            extent = patch.get_window_extent(renderer)
            x0, x1 = max(extent.x0, box.x0), min(extent.x1, box.x1)
            y0, y1 = max(extent.y0, box.y0), min(extent.y1, box.y1)
            if x1 > x0 and y1 > y0:
                out.append((x0, y0, x1, y1))
    return out


def readability_problems(fig, dpi: float, tight: bool) -> list[str]:
    """Everything that makes the figure hard to read on a lab screen (empty: nothing found)."""
    if not hasattr(fig.canvas, "get_renderer"):  # a Figure made without pyplot
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []

    if tight:  # the inline backend crops to the drawn content plus savefig.pad_inches
        width_in = fig.get_tightbbox(renderer).width + 2 * matplotlib.rcParams["savefig.pad_inches"]
    else:
        width_in = fig.get_figwidth()
    width_px = width_in * dpi
    scale = dpi / INLINE_DPI * min(1.0, COLUMN_PX / width_px)

    texts = _texts(fig, renderer)
    small = sorted({(round(t.get_fontsize() * scale, 1), where) for where, t in texts
                    if t.get_fontsize() * scale < MIN_PT - 1e-6})
    if small:
        problems.append(f"text below {MIN_PT} pt as shown ({width_px:.0f} px wide at {dpi:g} dpi, shown at "
                        f"{scale:.2f} x its size in points): " + "; ".join(f"{s} pt {w}" for s, w in small[:6])
                        + (f" (+{len(small) - 6} more)" if len(small) > 6 else ""))

    for n, ax in enumerate(fig.axes):
        if not _has_data(ax):
            continue
        for which in ("x", "y"):
            if not _labelled(ax, which):
                problems.append(f"axes {n} ({ax.get_title()!r}) has no {which}-label")
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if "epoch" in axis.label.get_text().lower():
                shown = [tick.get_loc() for tick in axis._update_ticks() if tick.label1.get_visible()
                         and tick.label1.get_text().strip()]
                fractional = [float(loc) for loc in shown if abs(loc - round(loc)) > 1e-9]
                if fractional:
                    problems.append(f"axes {n} ({ax.get_title()!r}): epoch axis with fractional ticks {fractional}")

    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for n, ax in enumerate(fig.axes):
            points = _data_points(ax, renderer)
            covered = ((points[:, 0] > box.x0) & (points[:, 0] < box.x1)
                       & (points[:, 1] > box.y0) & (points[:, 1] < box.y1))
            bars = [b for b in _bars(ax, renderer)
                    if b[0] < box.x1 and b[2] > box.x0 and b[1] < box.y1 and b[3] > box.y0]
            if covered.any() or bars:
                entries = ", ".join(t.get_text() for t in legend.get_texts()[:3])
                problems.append(f"the legend ({entries}, …) covers {int(covered.sum())} data points and {len(bars)} "
                                f"bars of axes {n} ({ax.get_title()!r})")

    boxes = [(where, t.get_text(), t.get_window_extent(renderer)) for where, t in texts
             if "legend" not in where]
    boxes += [("legend", "legend", legend.get_window_extent(renderer)) for legend in legends]
    for i, (wa, ta, a) in enumerate(boxes):
        for wb, tb, b in boxes[i + 1:]:
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            if overlap_x > 1 and overlap_y > 1:
                problems.append(f"texts overlap: {ta!r} ({wa}) and {tb!r} ({wb})")
    if not tight:  # a fixed-size PNG cuts off whatever lies outside the figure
        page = fig.bbox
        for where, t in texts:
            e = t.get_window_extent(renderer)
            if e.x0 < page.x0 - 1 or e.y0 < page.y0 - 1 or e.x1 > page.x1 + 1 or e.y1 > page.y1 + 1:
                problems.append(f"text cut off at the figure's edge: {t.get_text()!r} ({where})")
    return problems


# ----------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_reads_on_a_lab_screen(name, runs3, runs7, tiny_data):
    fig, dpi, tight = FIGURES[name](runs3, runs7, tiny_data)
    try:
        problems = readability_problems(fig, dpi, tight)
    finally:
        plt.close(fig)
    assert problems == [], f"{name}:\n  " + "\n  ".join(problems)


def test_every_figure_function_is_rendered():
    """A new public figure function must be added to FIGURES (and so pass the checks)."""
    public = {f"plots.{n}" for module in (S, panels, diagnostics, notebook01, notebook02, notebook05, notebook06,
                                          notebook07)
              for n, f in inspect.getmembers(module, inspect.isfunction)
              if f.__module__ == module.__name__ and not n.startswith("_")
              and str(inspect.signature(f).return_annotation).endswith("Figure")}
    assert public and public <= set(FIGURES), f"not rendered by this test: {sorted(public - set(FIGURES))}"


def test_live_and_static_figures_share_one_style(runs3):
    """The live figure and plot_comparison draw the same panels: titles, labels, scales, line styles."""
    plot = plots.LivePlot()
    plot.redraw(runs3)
    static = plots.plot_comparison(runs3)

    def style(ax):
        lines = [(line.get_label(), line.get_color(), line.get_linestyle(), line.get_marker(), line.get_alpha(),
                  line.get_linewidth(), line.get_markerfacecolor()) for line in ax.lines]
        return ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale(), lines

    assert [style(ax) for ax in plot.axes] == [style(ax) for ax in static.axes[:3]]
    loss, _, norm = plot.axes
    assert norm.get_yscale() == "log"
    for ax in (loss, norm):  # what the legend promises: faint single iterations under a bold moving average
        alphas = sorted(line.get_alpha() or 1 for line in ax.lines)
        assert len(ax.lines) == 2 * len(runs3) and alphas[0] < 0.5 and alphas[-1] == 1
    legend_text = " ".join(t.get_text() for legend in static.legends for t in legend.get_texts())
    assert "single iterations" in legend_text and "moving average" in legend_text
    plt.close(static)


@pytest.mark.parametrize("total", [None, 4690])
def test_live_figure_stays_readable_while_training(total):
    """One live figure redrawn as training goes on (its layout is computed early and then kept); as the engine
    calls it (``total``: the x axes span the whole training) and as ``redraw(runs)`` alone does."""
    full = {name: synthetic_run(name, k, per_epoch=938) for k, name in enumerate(PRACTICAL_ACTIVATIONS)}
    plot = plots.LivePlot()
    for iterations in (50, 120, 900, 1500, 4690):
        epochs = iterations // 938
        plot.redraw({n: History(n, h.config, h.loss[:iterations], h.grad_norm[:iterations],
                                h.layer_grad_norms[:iterations], h.train_acc[:epochs], h.test_acc[:epochs],
                                iterations_per_epoch=938)
                     for n, h in full.items()}, f"epoch {epochs + 1}, iteration {iterations} of 4690", total)
        problems = readability_problems(plot.fig, plot.dpi, False)
        assert problems == [], f"after {iterations} iterations:\n  " + "\n  ".join(problems)


def test_live_figure_is_redrawn_at_every_epoch_end(runs3):
    """However costly or recent the last redraw, an epoch's end is drawn; within an epoch the throttle decides."""
    plot = plots.LivePlot(min_interval=1e9)  # no redraw within an epoch
    for epoch in (1, 2, 3):
        for iteration in range(50, 120, 50):
            plot(Progress(epoch, (epoch - 1) * 120 + iteration, 360, runs3, epoch_end=False))
        plot(Progress(epoch, epoch * 120, 360, runs3, epoch_end=True))
    assert plot.updates == 3 and plot.epochs_drawn == [1, 2, 3]
    plot = plots.LivePlot(min_interval=0.0, max_share=1e9)  # every call within an epoch redraws too
    plot(Progress(1, 50, 360, runs3, epoch_end=False))
    plot.draw_seconds = 1e9  # drawing has cost "too much": only the epoch's end is still drawn
    plot(Progress(1, 100, 360, runs3, epoch_end=False))
    plot(Progress(1, 120, 360, runs3, epoch_end=True))
    assert plot.updates == 2 and plot.epochs_drawn == [1]


def test_per_layer_panel_has_a_line_per_layer_and_activation(runs3):
    plot = plots.LivePlot(layers=True)
    plot.redraw(runs3, "", 600)
    static = plots.plot_comparison(runs3, panels=("loss", "accuracy", "grad_norm", "layers"))
    for fig_panels in (plot.panels, dict(zip(("loss", "accuracy", "grad_norm", "layers"), static.axes))):
        ax = fig_panels["layers"]
        assert ax.get_yscale() == "log" and ax.get_title() == "Gradient norm per layer"
        assert len(ax.lines) == 3 * len(runs3) and all(len(line.get_xdata()) > 0 for line in ax.lines)
        assert len({(line.get_color(), line.get_linestyle()) for line in ax.lines}) == 9  # activation x layer
        assert ax.get_shared_y_axes().joined(ax, fig_panels["grad_norm"])  # one scale with the global norm
    sigmoid_first = plot.panels["layers"].lines[0]  # Sigmoid's first hidden layer: its moving average
    assert sigmoid_first.get_ydata()[-1] == pytest.approx(
        sum(r[0] for r in runs3["Sigmoid"].layer_grad_norms[-50:]) / 50)
    legend = " ".join(t.get_text() for t in static.legends[0].get_texts())
    assert "hidden layer 1" in legend and "output layer" in legend
    plt.close(static)


def test_live_png_is_no_wider_than_the_column(runs3):
    plot = plots.LivePlot()
    plot.redraw(runs3)
    data = S.figure_png(plot.fig, dpi=plot.dpi)
    width, height = struct.unpack(">II", data[16:24])  # the PNG header's IHDR chunk
    assert width <= COLUMN_PX and height < width


def test_activations_have_distinct_colour_blind_safe_styles():
    okabe_ito = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    styles = [S.activation_style(name) for name in ACTIVATIONS]
    assert {s["color"].upper() for s in styles} <= okabe_ito
    assert len({s["color"] for s in styles}) == len({s["marker"] for s in styles}) == len(ACTIVATIONS)
    assert S.COLORS == {name: s["color"] for name, s in zip(ACTIVATIONS, styles)}


def test_the_checks_catch_a_bad_figure():
    """Each fault the checks look for, made on purpose, is reported."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))  # 1200 px: shrunk to about 0.8 in the column
    a1.plot([1, 2, 3, 4, 5], [90, 94, 96, 97, 98], "o-", label="train")
    a1.set(title="Accuracy per epoch, on the training and the test images, with a title that runs far beyond the "
                 "width of its own panel",
           xlabel="epoch")  # no y-label; fractional epoch ticks by default
    a1.legend(loc="upper right", fontsize=8)  # over the last epoch's point
    a2.plot([0, 1], [0, 1])
    a2.set(title="and meets the next one", xlabel="x", ylabel="y")
    problems = "\n".join(readability_problems(fig, 100, True))
    plt.close(fig)
    for expected in ("text below 11 pt", "has no y-label", "fractional ticks", "the legend (train, …) covers",
                     "texts overlap"):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"


def test_displayed_sizes_of_the_practical_figures(runs3):
    """The numbers quoted in the docs: at most 1000 px wide as shown (9.8 in + the inline backend's 0.1 in margins,
    at 100 dpi), fonts 12 pt (so shown at 12 pt)."""
    fig = plots.plot_comparison(runs3)
    fig.canvas.draw()
    width_px = (fig.get_tightbbox(fig.canvas.get_renderer()).width + 0.2) * fig.dpi
    assert fig.dpi == INLINE_DPI and width_px <= COLUMN_PX + 1
    assert math.isclose(S.STYLE["font.size"], 12) and (S.FIG_WIDTH + 0.2) * INLINE_DPI == COLUMN_PX
    plt.close(fig)
