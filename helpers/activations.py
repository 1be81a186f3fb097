"""The name → activation registry and each activation's derivative, written once (notebook 01; used everywhere).

Every comparison in the lab is driven by ``ACTIVATIONS``: a name builds a fresh module.  ``DERIVATIVES``
holds each f'(z), from the input z and the output a = f(z); the training engine's backward pass, notebook 01's
figures and the exercise checks all read it, and tests check each entry against autograd.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

# Notebooks 01, 04, 06: the registry.  Values build a fresh module.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "LeakyReLU": lambda: nn.LeakyReLU(0.01),
    "ELU": nn.ELU,
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
}
PRACTICAL_ACTIVATIONS = ("Sigmoid", "Tanh", "ReLU")  # the practical's three

# Notebook 01 §3: f'(z) from the input z and the output a = f(z).
DERIVATIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Sigmoid": lambda z, a: a * (1 - a),  # σ' = σ(1 − σ)
    "Tanh": lambda z, a: 1 - a * a,  # tanh' = 1 − tanh²
    "ReLU": lambda z, a: (z > 0).to(z.dtype),  # 1 for z > 0, else 0 (PyTorch takes 0 at z = 0)
    "LeakyReLU": lambda z, a: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, 0.01)),
    "ELU": lambda z, a: torch.where(z > 0, 1.0, a + 1).to(z.dtype),  # for z ≤ 0: e^z = a + 1
    "GELU": lambda z, a: torch.special.ndtr(z) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),
    "SiLU": lambda z, a: torch.sigmoid(z) * (1 + z * (1 - torch.sigmoid(z))),
}


def activation_name(name: str) -> str:
    """The registry's spelling of ``name`` (any capitalisation), or a ValueError listing the valid names (all notebooks)."""
    for key in ACTIVATIONS:
        if key.lower() == str(name).strip().lower():
            return key
    raise ValueError(f"Unknown activation {name!r}. Choose one of: {', '.join(ACTIVATIONS)}.")


def make_activation(name: str) -> nn.Module:
    """A new activation module for a registry name, e.g. ``make_activation("relu")`` (notebooks 01, 05)."""
    return ACTIVATIONS[activation_name(name)]()


def derivative(name: str, z: torch.Tensor) -> torch.Tensor:
    """f'(z) from ``DERIVATIVES``, element by element (notebook 01 §3: checked against autograd there)."""
    name = activation_name(name)
    with torch.no_grad():
        return DERIVATIVES[name](z, make_activation(name)(z))
