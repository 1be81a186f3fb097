"""Notebook 03's figure beyond the practical's panels: the plain loop and the engine side by side."""

from __future__ import annotations

from matplotlib.figure import Figure

from ..history import History
from .._machinery.figure_style import OKABE_ITO, _handles_of, legend_below, styled, subplots


@styled
def plot_drift(plain: History, fast: History, tolerance: float = 1e-4) -> Figure:
    """Notebook 03 §2: the plain loop's and the engine's loss per iteration, and how far apart they are (log scale)."""
    fig, (a1, a2) = subplots(1, 2, height=4.2)
    n = min(len(plain.loss), len(fast.loss))
    steps = range(1, n + 1)
    a1.plot(steps, plain.loss[:n], "-", color=OKABE_ITO["blue"], label="plain loop")
    a1.plot(steps, fast.loss[:n], "--", color=OKABE_ITO["orange"], label="engine")
    apart = [max(abs(p - q) / abs(q), 1e-9) for p, q in zip(plain.loss[:n], fast.loss[:n])]
    a2.plot(steps, apart, ".", color=OKABE_ITO["black"], markersize=3, label="each iteration (bottom edge: equal)")
    a2.axhline(6e-8, color=OKABE_ITO["bluish green"], linestyle=":", label="float32 rounding (6e-8)")
    a2.axhline(tolerance, color=OKABE_ITO["vermillion"], linestyle="--", label=f"{tolerance:.0e}: the drift mark")
    a1.set(title="Batch loss", xlabel="iteration", ylabel="cross-entropy loss")
    a2.set(title="Relative difference of the loss", xlabel="iteration", ylabel="|plain − engine| / engine",
           yscale="log", ylim=(1e-9, 1))
    legend_below(fig, [_handles_of(a1), _handles_of(a2)])
    return fig
