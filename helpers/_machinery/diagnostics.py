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
def activation_summary(activation: str, a: torch.Tensor, z: torch.Tensor) -> tuple[list[float], float, float]:
    """One model's hidden layer on one batch (a = f(z), [B, units]): (histogram shares, flat share, flat-unit share).

    The shares are of all B·units values; for ReLU the histogram counts the values above 0 only, so its shares and
    the flat share (the zeros) add up to 1.  A flat unit is flat for every image of the batch."""
    low, high = RANGES.get(activation, OTHER_RANGE)
    if activation == "ReLU":
        flat = a <= 0
    else:
        flat = DERIVATIVES[activation](z, a) < FLAT * _TOP_SLOPE.get(activation, 1.0)
    shown = a[~flat] if activation == "ReLU" else a.flatten()
    counts = torch.histc(shown.float().clamp(low, high), bins=BINS, min=low, max=high)
    shares = (counts / a.numel()).tolist()
    return ([round(s, 6) for s in shares], round(flat.float().mean().item(), 6),
            round(flat.all(0).float().mean().item(), 6))


def record(model, runs: dict, before: list[torch.Tensor], iteration: int) -> None:
    """Append iteration ``iteration``'s (0-based, as ``History.loss``) diagnostics to every run's History."""
    ratios = update_ratios(model, before).tolist()
    activations, pre_activations = model.kept
    for i, h in enumerate(runs.values()):
        d = h.diagnostics
        d["iterations"].append(iteration)
        d["update_ratio"].append(ratios[i])
        rows = [activation_summary(h.activation, a[i], z[i]) for a, z in zip(activations, pre_activations)]
        d["histogram"].append([r[0] for r in rows])
        d["flat_share"].append([r[1] for r in rows])
        d["flat_units"].append([r[2] for r in rows])
    model.kept = None
