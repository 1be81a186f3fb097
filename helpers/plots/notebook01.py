"""Notebook 01's figures: the activations and their derivatives, the chain of layers, and the explorer widget."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Sequence

import torch
from matplotlib.figure import Figure

from ..activations import PRACTICAL_ACTIVATIONS
from ..theory import Chain, activation_values, autograd_derivative, chain_gradient
from .._machinery.figure_style import (FIG_WIDTH, _handles_of, activation_handles, activation_style, figure_png,
                                       legend_below, styled, subplots)

if TYPE_CHECKING:  # imported lazily at run time: only the explorer needs widgets
    import ipywidgets


@styled
def plot_activations(names: Sequence[str] = PRACTICAL_ACTIVATIONS, x: torch.Tensor | None = None) -> Figure:
    """Two panels: each activation f(x) on the left, its autograd derivative f'(x) on the right (notebook 01)."""
    x = torch.arange(-600, 601, dtype=torch.float64) / 100 if x is None else x  # -6 ... 6, with 0 exactly
    fig, (ax_f, ax_d) = subplots(1, 2, height=4.8)
    for k, name in enumerate(names):
        s = activation_style(name)
        line = dict(color=s["color"], marker=s["marker"], markevery=(8 * k, 60) if len(x) > 100 else None,
                    linewidth=2.5, label=name)
        ax_f.plot(x.numpy(), activation_values(name, x).numpy(), **line)
        ax_d.plot(x.numpy(), autograd_derivative(name, x).numpy(), **line)
    ax_f.set(title="Activation  f(x)", xlabel="x", ylabel="f(x)")
    ax_d.set(title="Derivative  f′(x)  (autograd)", xlabel="x", ylabel="f′(x)")
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.8)
    legend_below(fig, [activation_handles(names, linewidth=2.5)])
    return fig


@styled
def plot_chain_gradients(chains: Sequence[Chain], max_depth: int = 20) -> Figure:
    """|gradient| reaching the input of each chain against its depth, on a log scale (notebook 01).

    Colour and marker: the activation; line style: the weight (solid w = 1, dashed w > 1, dotted w < 1).
    """
    depths = range(1, max_depth + 1)
    fig, ax = subplots(height=6.0)
    for chain in chains:
        s = activation_style(chain.activation)
        ax.plot(depths, [abs(chain_gradient(chain, d)) for d in depths], marker=s["marker"], linewidth=2,
                label=chain.label, color=s["color"],
                linestyle="-" if chain.weight == 1 else "--" if chain.weight > 1 else ":")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set(yscale="log", xticks=list(depths), xlabel="number of layers the gradient passes through",
           ylabel="|gradient at the input|", title="Backpropagation multiplies one factor  w·f′(z)  per layer")
    ax.grid(alpha=0.3, which="both")
    legend_below(fig, [_handles_of(ax)])
    return fig


@styled
def _explorer_figure(name: str, x: float) -> Figure:
    """The explorer's picture: f and f′ with the point x marked (not known to pyplot, so not displayed by itself)."""
    point = torch.tensor([x], dtype=torch.float64)
    fx, dfx = activation_values(name, point).item(), autograd_derivative(name, point).item()
    grid = torch.arange(-600, 601, 2, dtype=torch.float64) / 100
    fig, ax = subplots(height=3.8, width=FIG_WIDTH - 1, pyplot=False)
    color = activation_style(name)["color"]
    ax.set(title=f"{name} and its derivative", xlabel="x", ylabel="value")
    ax.plot(grid.numpy(), activation_values(name, grid).numpy(), color=color, linewidth=2.5, label="f(x)")
    ax.plot(grid.numpy(), autograd_derivative(name, grid).numpy(), color="black", linewidth=2, linestyle="--",
            label="f′(x)")
    ax.plot([x, x], [fx, dfx], "o", color="black", markersize=7, label=f"at x = {x:.2f}")
    ax.axvline(x, color="gray", linewidth=0.8)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper")
    return fig


def _explorer_html(name: str, x: float) -> str:
    """The explorer's text and picture: f(x), f'(x) and both curves with the point x marked."""
    point = torch.tensor([x], dtype=torch.float64)
    fx, dfx = activation_values(name, point).item(), autograd_derivative(name, point).item()
    png = base64.b64encode(figure_png(_explorer_figure(name, x))).decode("ascii")
    return (f"<div style='font-size:1.1em'><b>{html.escape(name)}</b> at x = {x:.2f}: "
            f"f(x) = <b>{fx:.4f}</b>, f′(x) = <b>{dfx:.4f}</b></div>"
            f"<img src='data:image/png;base64,{png}' alt='{html.escape(name)} and its derivative'>")


def explore_activation(names: Sequence[str] = PRACTICAL_ACTIVATIONS, x: float = 0.0) -> ipywidgets.VBox:
    """A Dropdown (activation) and a FloatSlider (x) that show f(x), f'(x) and a plot (notebook 01).

    The returned VBox has ``.dropdown``, ``.slider`` and ``.html`` attributes (for code and tests).
    """
    import ipywidgets as w

    dropdown = w.Dropdown(options=list(names), value=names[0], description="activation")
    slider = w.FloatSlider(value=x, min=-6.0, max=6.0, step=0.1, description="x", continuous_update=False)
    out = w.HTML(value=_explorer_html(dropdown.value, slider.value))

    def update(_change: dict) -> None:
        out.value = _explorer_html(dropdown.value, slider.value)

    dropdown.observe(update, names="value")
    slider.observe(update, names="value")
    box = w.VBox([w.HBox([dropdown, slider]), out])
    box.dropdown, box.slider, box.html = dropdown, slider, out  # plain attributes, not synced
    return box
