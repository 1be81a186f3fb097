"""The practical's MLP (784 -> 256 -> 128 -> 10) with the activation passed in (notebook 02; deeper ones in 05-06)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .activations import activation_name, make_activation

INITS = ("default", "xavier", "he")


class MLP(nn.Module):
    """784 -> hidden... -> 10 with one activation after every hidden Linear layer (notebook 02; the one network
    builder: 01's linear stacks and toy network, 05's deep ones).

    ``hidden=(256, 128)`` is the practical's network; longer tuples make it deeper; ``activation=None`` leaves
    nothing between the Linear layers (notebook 01: a stack of them is one affine map).
    """

    def __init__(self, activation: str | None = "ReLU", hidden: Sequence[int] = (256, 128), in_features: int = 784,
                 out_features: int = 10, init: str = "default", init_gain: float = 1.0) -> None:
        super().__init__()
        self.activation = None if activation is None else activation_name(activation)
        self.hidden = tuple(int(h) for h in hidden)
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be one or more positive layer sizes, got {hidden!r}.")
        sizes = (in_features, *self.hidden, out_features)
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(self.hidden) and self.activation is not None:
                layers.append(make_activation(self.activation))
        self.net = nn.Sequential(*layers)
        _init_weights(self, init, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input side first (layer 1 is the one gradients reach last)."""
        return [m for m in self.net if isinstance(m, nn.Linear)]


def _init_weights(model: nn.Module, init: str = "default", gain: float = 1.0) -> None:
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


def build_mlp(activation: str | None, seed: int, **kwargs) -> MLP:
    """An MLP whose initial weights depend on ``seed`` only, not on the activation (fair comparison) (notebooks 02, 04, 05, 06)."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        return MLP(activation, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in the model (235 146 for the practical's MLP) (notebook 02)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
