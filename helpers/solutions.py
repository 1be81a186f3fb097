"""Reference solutions of the "Your turn" exercises that the library does not already hold as a function.

Every other exercise's reference is the library's own function (``helpers/exercises/`` names each one),
so each solution lives once.  ``python -m tools.notebooks --solutions OUTDIR`` copies these bodies, like
the library's, into the instructor's copies of the notebooks.
"""

from __future__ import annotations

from torch import nn

from .activations import make_activation


def deep_mlp(activation: str, depth: int, width: int) -> nn.Module:
    """The reference of notebook 05's deep MLP (§3): Flatten, ``depth`` × (Linear to ``width`` units,
    activation), Linear to 10, ``MLP``'s structure."""
    layers: list[nn.Module] = [nn.Flatten()]  # [N, 1, 28, 28] images -> [N, 784]
    n_in = 784
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), make_activation(activation)]
        n_in = width
    layers.append(nn.Linear(n_in, 10))  # the 10 class scores: no activation after the output layer
    return nn.Sequential(*layers)
