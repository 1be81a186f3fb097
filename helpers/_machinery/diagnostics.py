"""Two diagnostics recorded while ``train_together`` trains (``TrainConfig(diagnostics_every=k)``, notebook 05 §5).

Machinery: every k-th iteration, per run, the **update-to-weight ratio** ‖ΔW‖ / ‖W‖ of every Linear weight in
that optimizer step (Karpathy, makemore part 3) and a **histogram of every hidden layer's activations** on that
batch (fastai's "colourful dimension"), with the share of *flat* values: saturated for Sigmoid and Tanh (the
derivative below 1 % of its maximum, as ``helpers/flow.py`` counts it), exactly 0 for ReLU.  Everything goes into
``History.diagnostics`` as plain lists (JSON-ready).  ``tests/test_diagnostics.py`` checks it against plain PyTorch.
"""

from __future__ import annotations

import torch

from ..activations import DERIVATIVES

BINS = 24  # histogram bins over each activation's range
# The range the bins cover (values outside go to the end bins).  ReLU: (0, top]; its zeros are the flat share.
RANGES = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0), "ReLU": (0.0, 8.0)}
OTHER_RANGE = (-1.0, 7.0)  # LeakyReLU, ELU, GELU, SiLU
FLAT = 0.01  # flat: f'(z) below this share of f's largest slope (flow.SATURATION_THRESHOLD)
_TOP_SLOPE = {"Sigmoid": 0.25}  # the others' largest slope is about 1


def empty(activation: str, every: int, layers: int) -> dict:
    """A run's ``History.diagnostics`` before training: the settings, and empty lists that grow every ``every`` steps."""
    low, high = RANGES.get(activation, OTHER_RANGE)
    return {"every": every, "bins": [low, high, BINS], "zeros_apart": activation == "ReLU",
            "flat": "zero" if activation == "ReLU" else "saturated", "layers": layers,
            "iterations": [], "update_ratio": [], "histogram": [], "flat_share": [], "flat_units": []}


def weights_now(model) -> list[torch.Tensor]:
    """Copies of the stacked weights (not the biases), taken just before the optimizer's step."""
    return [w.detach().clone() for w in model.weights]


@torch.no_grad()
def update_ratios(model, before: list[torch.Tensor]) -> torch.Tensor:
    """‖W_after − W_before‖ / ‖W_before‖ per model and Linear layer: [M, L]."""
    m = len(model.activations)
    ratios = [torch.linalg.vector_norm((w - b).view(m, -1), dim=1) / torch.linalg.vector_norm(b.view(m, -1), dim=1)
              for w, b in zip(model.weights, before)]
    return torch.stack(ratios, 1)


@torch.no_grad()
def flat_values(activation: str, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """True where a = f(z) is flat: Sigmoid, Tanh (and others): f'(z) < 1 % of f's largest slope; ReLU: a = 0."""
    if activation == "ReLU":
        return a <= 0
    return DERIVATIVES[activation](z, a) < FLAT * _TOP_SLOPE.get(activation, 1.0)


@torch.no_grad()
def layer_summaries(activations: list[str], a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """One hidden layer on one batch (a = f(z), [M, B, units]), per model: [M, BINS + 2] = the histogram's shares of
    all B·units values, the flat share, the share of units flat for every image of the batch.

    For ReLU the histogram counts the values above 0 only, so its shares and the flat share (the zeros) add up to 1."""
    m = len(activations)
    flat = torch.stack([flat_values(name, a_i, z_i) for name, a_i, z_i in zip(activations, a, z)])  # [M, B, units]
    low, high = (torch.tensor([RANGES.get(n, OTHER_RANGE)[k] for n in activations], dtype=a.dtype,
                              device=a.device).view(m, 1, 1) for k in (0, 1))
    bins = ((a.clamp(low, high) - low) * (BINS / (high - low))).floor().clamp_(0, BINS - 1).long()
    apart = torch.tensor([n == "ReLU" for n in activations], device=a.device).view(m, 1, 1)
    bins = torch.where(apart & flat, BINS, bins)  # ReLU's zeros in an extra bin, left out of the histogram
    bins += torch.arange(m, device=a.device).view(m, 1, 1) * (BINS + 1)
    counts = torch.bincount(bins.flatten(), minlength=m * (BINS + 1)).view(m, BINS + 1)[:, :BINS]
    values = a.shape[1] * a.shape[2]
    return torch.cat([counts / values, flat.flatten(1).float().mean(1, keepdim=True),
                      flat.all(1).float().mean(1, keepdim=True)], 1)


def record(model, runs: dict, before: list[torch.Tensor], iteration: int) -> None:
    """Append iteration ``iteration``'s (0-based, as ``History.loss``) diagnostics to every run's History."""
    ratios = update_ratios(model, before).tolist()
    activations, pre_activations = model.kept
    names = [h.activation for h in runs.values()]
    layers = torch.stack([layer_summaries(names, a, z) for a, z in zip(activations, pre_activations)], 1)
    layers = (torch.round(layers * 1e6) / 1e6).tolist()  # [M][layer][BINS + 2], one copy to Python for all
    for i, h in enumerate(runs.values()):
        d = h.diagnostics
        d["iterations"].append(iteration)
        d["update_ratio"].append(ratios[i])
        d["histogram"].append([row[:BINS] for row in layers[i]])
        d["flat_share"].append([row[BINS] for row in layers[i]])
        d["flat_units"].append([row[BINS + 1] for row in layers[i]])
    model.kept = None
