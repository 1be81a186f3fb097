"""Notebook 02's figures: MNIST images and the values of their pixels."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from matplotlib.figure import Figure

from .._machinery.figure_style import styled, subplots


@styled
def plot_samples(dataset: Sequence[tuple[torch.Tensor, int]], n: int = 16, columns: int = 8) -> Figure:
    """The first n images of a dataset of (image, label) pairs, each titled with its label (notebook 02)."""
    rows = math.ceil(n / columns)
    fig, axes = subplots(rows, columns, height=1.6 * rows + 0.3, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image, label = dataset[i]
            ax.imshow(torch.as_tensor(image).reshape(28, 28).numpy(), cmap="gray")
            ax.set_title(f"label {int(label)}")
    return fig


@styled
def plot_value_histograms(values: dict[str, torch.Tensor], bins: int = 51) -> Figure:
    """One histogram per tensor, side by side; log counts, because background pixels far outnumber the rest (notebook 02)."""
    fig, axes = subplots(1, len(values), height=4.2, squeeze=False)
    for ax, (title, t) in zip(axes.flat, values.items()):
        ax.hist(t.flatten().to(torch.float64).numpy(), bins=bins, color="0.45")
        ax.set(title=title, yscale="log", xlabel="pixel value", ylabel="number of pixels")
    return fig
