"""Small demonstrations for the theory notebooks (01: activation functions, 02: data and model).

Each function shows one idea and returns numbers or a figure, so the notebook can print them
and check them with an ``assert``.  Computations use float64 where exactness matters.
"""

from __future__ import annotations

import base64
import html
import math
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from .model import DERIVATIVES, PRACTICAL_ACTIVATIONS, activation_name, make_activation
from .plots import FIG_WIDTH, activation_handles, activation_style, figure_png, legend_below, styled, subplots

if TYPE_CHECKING:  # imported lazily at run time: only the explorer needs widgets
    import ipywidgets

# ----------------------------------------------------------------------------- functions and derivatives

def activation_values(name: str, x: torch.Tensor) -> torch.Tensor:
    """f(x) for a registry activation (e.g. "Sigmoid"), element by element."""
    with torch.no_grad():
        return make_activation(name)(x)


def autograd_derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """f'(x) computed by PyTorch's autograd: the derivative that backpropagation really uses."""
    x = x.detach().clone().requires_grad_(True)
    make_activation(name)(x).sum().backward()  # d(sum f(x_i))/dx_i = f'(x_i): each output depends on its own x_i
    return x.grad


# The closed forms, σ' = σ(1 − σ), tanh' = 1 − tanh², ReLU' = step and those of the registry's other
# activations, are written once, in helpers.model.DERIVATIVES (the training engine's backward pass uses them too).
CLOSED_FORM_DERIVATIVE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    name: (lambda x, name=name: DERIVATIVES[name](x, activation_values(name, x))) for name in DERIVATIVES
}


def derivative_gap(name: str, x: torch.Tensor) -> float:
    """Largest |autograd derivative − closed-form derivative| over the points x."""
    closed = CLOSED_FORM_DERIVATIVE[activation_name(name)](x)
    return (autograd_derivative(name, x) - closed).abs().max().item()


def output_range(name: str, x: torch.Tensor) -> tuple[float, float]:
    """(smallest, largest) value of f over the points x."""
    y = activation_values(name, x)
    return y.min().item(), y.max().item()


def max_derivative(name: str, x: torch.Tensor) -> tuple[float, float]:
    """(largest f'(x) over the points x, the first x where it is reached)."""
    d = autograd_derivative(name, x)
    i = int(torch.argmax(d))
    return d[i].item(), x[i].item()


@styled
def plot_activations(names: Sequence[str] = PRACTICAL_ACTIVATIONS, x: torch.Tensor | None = None) -> Figure:
    """Two panels: each activation f(x) on the left, its autograd derivative f'(x) on the right."""
    x = torch.arange(-600, 601, dtype=torch.float64) / 100 if x is None else x  # -6 ... 6, with 0 exactly
    fig, (ax_f, ax_d) = subplots(1, 2, height=4.8)
    for k, name in enumerate(names):
        s = activation_style(name)
        line = dict(color=s["color"], marker=s["marker"], markevery=(8 * k, 60) if len(x) > 100 else None,
                    linewidth=2.5, label=name)
        ax_f.plot(x.numpy(), activation_values(name, x).numpy(), **line)
        ax_d.plot(x.numpy(), autograd_derivative(name, x).numpy(), **line)
    ax_f.set(title="Activation  f(x)", ylabel="f(x)")
    ax_d.set(title="Derivative  f′(x)  (autograd)", ylabel="f′(x)")
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("x")
    legend_below(fig, [activation_handles(names, linewidth=2.5)])
    return fig


# ----------------------------------------------------------------------------- why non-linearity

def linear_stack(sizes: Sequence[int], activation: str | None = None, seed: int = 0) -> nn.Sequential:
    """Linear layers of the given sizes (float64), with ``activation`` between them or none at all."""
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):  # same seed, same weights; the caller's random state is left alone
        torch.manual_seed(seed)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i > 0 and activation is not None:
                layers.append(make_activation(activation))
            layers.append(nn.Linear(n_in, n_out).double())
    return nn.Sequential(*layers)


def collapse_two(first: nn.Linear, second: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) with second(first(x)) = x @ W.T + b: W = W₂W₁ and b = W₂b₁ + b₂ (notebook 01's exercise)."""
    return second.weight @ first.weight, second.weight @ first.bias + second.bias


def collapse(stack: nn.Sequential) -> nn.Linear:
    """ONE Linear layer equal to a stack of Linear layers: W = W_n ⋯ W_1, b = W_n(⋯(W_2 b_1 + b_2)⋯) + b_n."""
    linears = list(stack)
    if not all(isinstance(m, nn.Linear) for m in linears):
        raise ValueError("collapse() needs a stack of Linear layers only (no activation between them).")
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


def max_abs_difference(f: nn.Module, g: nn.Module, x: torch.Tensor) -> float:
    """Largest |f(x) − g(x)| over a batch of inputs x."""
    with torch.no_grad():
        return (f(x) - g(x)).abs().max().item()


def affine_defect(net: nn.Module, a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest |f(a+b) − f(a) − f(b) + f(0)|: exactly 0 for every affine map f(x) = Wx + c."""
    with torch.no_grad():
        zero = torch.zeros_like(a)
        return (net(a + b) - net(a) - net(b) + net(zero)).abs().max().item()


def linear_collapse_gap(sizes: Sequence[int] = (20, 64, 64, 64, 5), seed: int = 0, n_inputs: int = 1000) -> float:
    """Max |stack(x) − collapsed(x)| for a stack of Linear layers without activations (≈ 1e-15: the same map)."""
    stack = linear_stack(sizes, None, seed)
    x = torch.randn(n_inputs, sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return max_abs_difference(stack, collapse(stack), x)


# ----------------------------------------------------------------------------- repeated multiplication

class Chain(NamedTuple):
    """A chain of one-neuron layers z_l = weight · f(z_{l−1}), started at the input z0."""

    activation: str
    weight: float
    z0: float = 0.0

    @property
    def label(self) -> str:
        """A legend entry such as "ReLU, w = 1.5, z₀ = 1"."""
        return f"{self.activation}, w = {self.weight:g}, z₀ = {self.z0:g}"


def chain_gradient(chain: Chain, depth: int) -> float:
    """dz_depth/dz_0 of the chain, computed by autograd (backpropagation through ``depth`` layers)."""
    z0 = torch.tensor(chain.z0, dtype=torch.float64, requires_grad=True)
    f, z = make_activation(chain.activation), z0
    for _ in range(depth):
        z = chain.weight * f(z)
    z.backward()
    return z0.grad.item()


def chain_factors(chain: Chain, depth: int) -> list[float]:
    """The chain rule's factors, one per layer: weight · f'(z_{l−1}). Their product is chain_gradient."""
    f, z, factors = make_activation(chain.activation), torch.tensor(chain.z0, dtype=torch.float64), []
    for _ in range(depth):
        factors.append(chain.weight * autograd_derivative(chain.activation, z.reshape(1)).item())
        with torch.no_grad():
            z = chain.weight * f(z)
    return factors


@styled
def plot_chain_gradients(chains: Sequence[Chain], max_depth: int = 20) -> Figure:
    """|gradient| reaching the input of each chain against its depth, on a log scale.

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
    ax.set_yscale("log")
    ax.set_xticks(list(depths))
    ax.set_xlabel("number of layers the gradient passes through")
    ax.set_ylabel("|gradient at the input|")
    ax.set_title("Backpropagation multiplies one factor  w·f′(z)  per layer")
    ax.grid(alpha=0.3, which="both")
    legend_below(fig, [list(zip(*ax.get_legend_handles_labels()))])
    return fig


# ----------------------------------------------------------------------------- zero-centred outputs

def output_mean(name: str, n: int = 100_000, seed: int = 0) -> float:
    """Mean of f(z) for z drawn from a standard normal: 0 for a zero-centred activation."""
    z = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return activation_values(name, z).mean().item()


def same_sign_fraction(name: str, n_inputs: int = 100, n_neurons: int = 50, seed: int = 0) -> float:
    """Fraction of neurons whose incoming weight gradients (one example, after ``name``) all share one sign.

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
    """A small regression task: 10 random features, target sin(sum of features)."""
    x = torch.randn(n, 10, generator=torch.Generator().manual_seed(seed))
    return x, torch.sin(x.sum(1, keepdim=True))


def one_hidden_layer_net(activation: str = "ReLU", width: int = 100, seed: int = 0) -> nn.Sequential:
    """10 → width → 1: a Linear layer, the activation, and a Linear output."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(10, width), make_activation(activation), nn.Linear(width, 1))


@contextmanager
def one_thread():
    """Run PyTorch on one CPU thread inside the block: for tiny tensors, sharing out work costs more than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_sgd(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int = 100) -> float:
    """Full-batch plain gradient descent on the mean squared error; returns the last loss."""
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    with one_thread():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
    return loss.item()


def dead_units(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """True for each hidden unit whose pre-activation is ≤ 0 for EVERY input in x (a dead ReLU)."""
    with torch.no_grad():
        return (net[0](x) <= 0).all(dim=0)


def dead_unit_gradient(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> float:
    """Largest |gradient| of any incoming weight or bias of the dead units (0 means: they can never change)."""
    net.zero_grad()
    ((net(x) - y) ** 2).mean().backward()
    dead = dead_units(net, x)
    if not dead.any():
        return 0.0
    return max(net[0].weight.grad[dead].abs().max().item(), net[0].bias.grad[dead].abs().max().item())


# ----------------------------------------------------------------------------- the interactive explorer

@styled
def explorer_figure(name: str, x: float) -> Figure:
    """The explorer's picture: f and f′ of one activation, with the point x marked (a figure pyplot does not know,
    so nothing else gets displayed)."""
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


def explorer_html(name: str, x: float) -> str:
    """The explorer's text and picture: f(x), f'(x) and both curves with the point x marked."""
    point = torch.tensor([x], dtype=torch.float64)
    fx, dfx = activation_values(name, point).item(), autograd_derivative(name, point).item()
    png = base64.b64encode(figure_png(explorer_figure(name, x))).decode("ascii")
    return (f"<div style='font-size:1.1em'><b>{html.escape(name)}</b> at x = {x:.2f}: "
            f"f(x) = <b>{fx:.4f}</b>, f′(x) = <b>{dfx:.4f}</b></div>"
            f"<img src='data:image/png;base64,{png}' alt='{html.escape(name)} and its derivative'>")


def explore_activation(names: Sequence[str] = PRACTICAL_ACTIVATIONS, x: float = 0.0) -> ipywidgets.VBox:
    """A Dropdown (activation) and a FloatSlider (x) that show f(x), f'(x) and a plot.

    The returned VBox has ``.dropdown``, ``.slider`` and ``.html`` attributes (for code and tests).
    """
    import ipywidgets as w

    dropdown = w.Dropdown(options=list(names), value=names[0], description="activation")
    slider = w.FloatSlider(value=x, min=-6.0, max=6.0, step=0.1, description="x", continuous_update=False)
    out = w.HTML(value=explorer_html(dropdown.value, slider.value))

    def update(_change: dict) -> None:
        out.value = explorer_html(dropdown.value, slider.value)

    dropdown.observe(update, names="value")
    slider.observe(update, names="value")
    box = w.VBox([w.HBox([dropdown, slider]), out])
    box.dropdown, box.slider, box.html = dropdown, slider, out  # plain attributes, not synced
    return box


# ----------------------------------------------------------------------------- MNIST (notebook 02)

@styled
def plot_samples(dataset: Sequence[tuple[torch.Tensor, int]], n: int = 16, columns: int = 8) -> Figure:
    """The first n images of a dataset of (image, label) pairs, each titled with its label."""
    rows = math.ceil(n / columns)
    fig, axes = subplots(rows, columns, height=1.6 * rows + 0.3, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image, label = dataset[i]
            ax.imshow(torch.as_tensor(image).reshape(28, 28).numpy(), cmap="gray")
            ax.set_title(f"label {int(label)}")
    return fig


def value_summary(t: torch.Tensor) -> dict[str, float]:
    """min, max, mean and standard deviation of a tensor's values (as floats)."""
    t = t.to(torch.float64)
    return {"min": t.min().item(), "max": t.max().item(), "mean": t.mean().item(), "std": t.std().item()}


@styled
def plot_value_histograms(values: dict[str, torch.Tensor], bins: int = 51) -> Figure:
    """One histogram per tensor, side by side; log counts, because background pixels far outnumber the rest."""
    fig, axes = subplots(1, len(values), height=4.2, squeeze=False)
    for ax, (title, t) in zip(axes.flat, values.items()):
        ax.hist(t.flatten().to(torch.float64).numpy(), bins=bins, color="0.45")
        ax.set(title=title, yscale="log", xlabel="pixel value", ylabel="number of pixels")
    return fig


def layer_parameter_counts(model: nn.Module) -> list[tuple[str, int, int]]:
    """(layer, weights, biases) for each Linear layer, e.g. ("784 → 256", 200704, 256)."""
    return [(f"{m.in_features} → {m.out_features}", m.weight.numel(), m.bias.numel())
            for m in model.modules() if isinstance(m, nn.Linear)]
