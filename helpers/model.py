"""The practical's MLP (784 -> 256 -> 128 -> 10) and the name -> activation registry."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

# One registry drives every comparison in the lab.  Values build a fresh module.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "LeakyReLU": lambda: nn.LeakyReLU(0.01),
    "ELU": nn.ELU,
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
}
PRACTICAL_ACTIVATIONS = ("Sigmoid", "Tanh", "ReLU")

# Each activation's derivative f'(z), from its input z and its output a = f(z).  The training
# engine's hand-written backward pass (helpers/engine.py) uses them; tests check each against autograd.
DERIVATIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Sigmoid": lambda z, a: a * (1 - a),  # σ' = σ(1 − σ)
    "Tanh": lambda z, a: 1 - a * a,  # tanh' = 1 − tanh²
    "ReLU": lambda z, a: (z > 0).to(z.dtype),  # 1 for z > 0, else 0 (PyTorch takes 0 at z = 0)
    "LeakyReLU": lambda z, a: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, 0.01)),
    "ELU": lambda z, a: torch.where(z > 0, 1.0, a + 1).to(z.dtype),  # for z ≤ 0: e^z = a + 1
    "GELU": lambda z, a: torch.special.ndtr(z) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),
    "SiLU": lambda z, a: torch.sigmoid(z) * (1 + z * (1 - torch.sigmoid(z))),
}

INITS = ("default", "xavier", "he")


def activation_name(name: str) -> str:
    """The registry's spelling of ``name`` (case-insensitive), or a ValueError listing valid names."""
    for key in ACTIVATIONS:
        if key.lower() == str(name).strip().lower():
            return key
    raise ValueError(f"Unknown activation {name!r}. Choose one of: {', '.join(ACTIVATIONS)}.")


def make_activation(name: str) -> nn.Module:
    """A new activation module for a registry name, e.g. ``make_activation("relu")``."""
    return ACTIVATIONS[activation_name(name)]()


class MLP(nn.Module):
    """784 -> hidden... -> 10 with one activation after every hidden Linear layer.

    ``hidden=(256, 128)`` is the practical's network; longer tuples make it deeper.
    """

    def __init__(
        self,
        activation: str = "ReLU",
        hidden: Sequence[int] = (256, 128),
        in_features: int = 784,
        out_features: int = 10,
        init: str = "default",
        init_gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.activation = activation_name(activation)
        self.hidden = tuple(int(h) for h in hidden)
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be one or more positive layer sizes, got {hidden!r}.")
        sizes = (in_features, *self.hidden, out_features)
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(self.hidden):
                layers.append(make_activation(self.activation))
        self.net = nn.Sequential(*layers)
        init_weights(self, init, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input side first (layer 1 is the one gradients reach last)."""
        return [m for m in self.net if isinstance(m, nn.Linear)]


def init_weights(model: nn.Module, init: str = "default", gain: float = 1.0) -> None:
    """Re-initialise every Linear layer: PyTorch's default, Xavier/Glorot or He/Kaiming (biases 0 for the
    last two); then multiply the weights by ``gain`` (e.g. 4 for Xavier with Sigmoid, whose slope at 0 is 1/4)."""
    if init not in INITS:
        raise ValueError(f"Unknown init {init!r}. Choose one of: {', '.join(INITS)}.")
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            if init == "xavier":
                nn.init.xavier_uniform_(layer.weight)
            elif init == "he":
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            if init != "default":  # default: nn.Linear's own reset_parameters already ran
                nn.init.zeros_(layer.bias)
            if gain != 1.0:
                with torch.no_grad():
                    layer.weight.mul_(gain)


def build_mlp(activation: str, seed: int, **kwargs) -> MLP:
    """An MLP whose initial weights depend on ``seed`` only, not on the activation (fair comparison)."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        return MLP(activation, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in the model (235 146 for the practical's MLP)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
