"""Small demonstrations for the theory notebooks (01: activation functions, 02: data and model; 06: Leaky ReLU).

Each function shows one idea and returns numbers or a figure, so the notebook can print them
and check them with an ``assert``.  Computations use float64 where exactness matters.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .activations import derivative, make_activation
from .model import MLP


# ----------------------------------------------------------------------------- functions and derivatives

def activation_values(name: str, x: torch.Tensor) -> torch.Tensor:
    """f(x) for a registry activation (e.g. "Sigmoid"), element by element (notebook 01)."""
    with torch.no_grad():
        return make_activation(name)(x)


def autograd_derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """f'(x) computed by PyTorch's autograd: the derivative that backpropagation really uses (notebook 01)."""
    x = x.detach().clone().requires_grad_(True)
    make_activation(name)(x).sum().backward()  # d(sum f(x_i))/dx_i = f'(x_i): each output depends on its own x_i
    return x.grad


def derivative_gap(name: str, x: torch.Tensor) -> float:
    """Largest |autograd derivative − closed-form derivative| over the points x (notebook 01)."""
    return (autograd_derivative(name, x) - derivative(name, x)).abs().max().item()


def output_range(name: str, x: torch.Tensor) -> tuple[float, float]:
    """(smallest, largest) value of f over the points x (notebook 01)."""
    y = activation_values(name, x)
    return y.min().item(), y.max().item()


def max_derivative(name: str, x: torch.Tensor) -> tuple[float, float]:
    """(largest f'(x) over the points x, the first x where it is reached) (notebook 01)."""
    d = autograd_derivative(name, x)
    i = int(torch.argmax(d))
    return d[i].item(), x[i].item()


# ----------------------------------------------------------------------------- why non-linearity

def collapse_two(first: nn.Linear, second: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) with second(first(x)) = x @ W.T + b: W = W₂W₁ and b = W₂b₁ + b₂ (notebook 01's exercise)."""
    return second.weight @ first.weight, second.weight @ first.bias + second.bias


def collapse(stack: nn.Module) -> nn.Linear:
    """ONE Linear layer equal to a stack of Linear layers: W = W_n ⋯ W_1, b = W_n(⋯(W_2 b_1 + b_2)⋯) + b_n (notebook 01)."""
    linears = [m for m in stack.modules() if not list(m.children()) and not isinstance(m, nn.Flatten)]
    if not all(isinstance(m, nn.Linear) for m in linears):
        raise ValueError("collapse() needs a stack of Linear layers only: build it with activation=None.")
    one = _linear(linears[0].weight, linears[0].bias)
    for layer in linears[1:]:  # fold the layers in one by one, two into one each time
        one = _linear(*collapse_two(one, layer))
    return one.double()


def _linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    """A new Linear layer holding copies of ``weight`` and ``bias``."""
    one = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
    with torch.no_grad():
        one.weight.copy_(weight)
        one.bias.copy_(bias)
    return one


def affine_defect(net: nn.Module, a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest |f(a+b) − f(a) − f(b) + f(0)|: exactly 0 for every affine map f(x) = Wx + c (notebook 01)."""
    with torch.no_grad():
        zero = torch.zeros_like(a)
        return (net(a + b) - net(a) - net(b) + net(zero)).abs().max().item()


# ----------------------------------------------------------------------------- repeated multiplication

class Chain(NamedTuple):
    """A chain of one-neuron layers z_l = weight · f(z_{l−1}), started at the input z0 (notebook 01)."""

    activation: str
    weight: float
    z0: float = 0.0

    @property
    def label(self) -> str:
        """A legend entry such as "ReLU, w = 1.5, z₀ = 1"."""
        return f"{self.activation}, w = {self.weight:g}, z₀ = {self.z0:g}"


def chain_gradient(chain: Chain, depth: int) -> float:
    """dz_depth/dz_0 of the chain, computed by autograd (backpropagation through ``depth`` layers) (notebook 01)."""
    z0 = torch.tensor(chain.z0, dtype=torch.float64, requires_grad=True)
    f, z = make_activation(chain.activation), z0
    for _ in range(depth):
        z = chain.weight * f(z)
    z.backward()
    return z0.grad.item()


def chain_factors(chain: Chain, depth: int) -> list[float]:
    """The chain rule's factors, one per layer: weight · f'(z_{l−1}). Their product is chain_gradient (notebook 01)."""
    f, z, factors = make_activation(chain.activation), torch.tensor(chain.z0, dtype=torch.float64), []
    for _ in range(depth):
        factors.append(chain.weight * autograd_derivative(chain.activation, z.reshape(1)).item())
        with torch.no_grad():
            z = chain.weight * f(z)
    return factors


# ----------------------------------------------------------------------------- zero-centred outputs

def output_mean(name: str, n: int = 100_000, seed: int = 0) -> float:
    """Mean of f(z) for z drawn from a standard normal: 0 for a zero-centred activation (notebook 02 §3)."""
    z = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return activation_values(name, z).mean().item()


def same_sign_fraction(name: str, n_inputs: int = 100, n_neurons: int = 50, seed: int = 0) -> float:
    """Share of neurons whose incoming weight gradients (one example, after ``name``) have one sign (notebook 02 §3).

    The gradient of weight w_ij is δ_i · a_j: if every input a_j is positive, all weights into
    neuron i move in the same direction.  Zero inputs (ReLU) carry no sign and are ignored.
    """
    g = torch.Generator().manual_seed(seed)
    a = activation_values(name, torch.randn(n_inputs, dtype=torch.float64, generator=g))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(n_inputs, n_neurons).double()
    layer(a).backward(torch.randn(n_neurons, dtype=torch.float64, generator=g))  # δ: some error signal
    signs = torch.sign(layer.weight.grad)
    one_sign = [len(set(row[row != 0].tolist())) <= 1 for row in signs]
    return sum(one_sign) / n_neurons


# ----------------------------------------------------------------------------- dying ReLU

def toy_regression(n: int = 512, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A small regression task: 10 random features, target sin(sum of features) (notebooks 01 §6, 06 §3)."""
    x = torch.randn(n, 10, generator=torch.Generator().manual_seed(seed))
    return x, torch.sin(x.sum(1, keepdim=True))


def train_sgd(net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int = 100) -> float:
    """Full-batch plain gradient descent on the mean squared error; returns the last loss (notebook 01)."""
    optimizer, threads = torch.optim.SGD(net.parameters(), lr=lr), torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: sharing the work out between threads costs more than it saves
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return loss.item()


def dead_units(net: MLP, x: torch.Tensor) -> torch.Tensor:
    """True for each hidden unit whose pre-activation is ≤ 0 for EVERY input in x, a dead ReLU (notebooks 01, 06)."""
    with torch.no_grad():
        return (net.linears()[0](x) <= 0).all(dim=0)


def dead_unit_gradient(net: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """Largest |gradient| of the dead units' incoming weights and biases (0: they never change) (notebooks 01, 06)."""
    net.zero_grad()
    ((net(x) - y) ** 2).mean().backward()
    dead = dead_units(net, x)
    if not dead.any():
        return 0.0
    first = net.linears()[0]
    return max(first.weight.grad[dead].abs().max().item(), first.bias.grad[dead].abs().max().item())


# ----------------------------------------------------------------------------- MNIST (notebook 02)

def value_summary(t: torch.Tensor) -> dict[str, float]:
    """min, max, mean and standard deviation of a tensor's values (as floats) (notebook 02)."""
    t = t.to(torch.float64)
    return {"min": t.min().item(), "max": t.max().item(), "mean": t.mean().item(), "std": t.std().item()}


def layer_parameter_counts(model: nn.Module) -> list[tuple[str, int, int]]:
    """(layer, weights, biases) for each Linear layer, e.g. ("784 → 256", 200704, 256) (notebook 02)."""
    return [(f"{m.in_features} → {m.out_features}", m.weight.numel(), m.bias.numel())
            for m in model.modules() if isinstance(m, nn.Linear)]
