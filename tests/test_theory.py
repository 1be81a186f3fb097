"""Tests for helpers/theory.py: the demonstrations of notebooks 01 and 02 (fast, no MNIST needed)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch

from helpers import MLP, build_mlp, count_parameters
from helpers import plots as P
from helpers._machinery import figure_style as S
from helpers import theory as T
from helpers.activations import derivative

GRID = torch.arange(-1000, 1001, dtype=torch.float64) / 100  # -10 ... 10 in steps of 0.01, exactly 0 included


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- derivatives

@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "ReLU"])
def test_autograd_matches_closed_form(name):
    assert T.derivative_gap(name, GRID) < 1e-12


def test_closed_forms_are_the_textbook_ones():
    x = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    s = 1 / (1 + torch.exp(-x))
    assert torch.allclose(derivative("Sigmoid", x), s * (1 - s))
    assert torch.allclose(derivative("Tanh", x), 1 / torch.cosh(x) ** 2)
    assert derivative("ReLU", x).tolist() == [0.0, 0.0, 1.0]


def test_derivative_gap_detects_a_wrong_formula(monkeypatch):
    monkeypatch.setattr(T, "derivative", lambda name, x: torch.sigmoid(x))  # σ instead of σ'
    assert T.derivative_gap("Sigmoid", GRID) > 0.1


def test_autograd_derivative_is_elementwise_and_leaves_input_alone():
    x = torch.tensor([-1.0, 0.0, 2.0])
    d = T.autograd_derivative("ReLU", x)
    assert d.tolist() == [0.0, 0.0, 1.0]  # PyTorch's ReLU'(0) is 0
    assert not x.requires_grad and x.grad is None


def test_max_derivative_values_and_places():
    assert T.max_derivative("Sigmoid", GRID) == (0.25, 0.0)
    assert T.max_derivative("Tanh", GRID) == (1.0, 0.0)
    value, where = T.max_derivative("ReLU", GRID)
    assert value == 1.0 and where > 0


def test_output_ranges():
    lo, hi = T.output_range("Sigmoid", GRID)
    assert 0 < lo < 1e-4 and 1 - 1e-4 < hi < 1
    lo, hi = T.output_range("Tanh", GRID)
    assert -1 < lo < -0.999 and 0.999 < hi < 1
    assert T.output_range("ReLU", GRID) == (0.0, 10.0)


def test_plot_activations_draws_function_and_derivative():
    fig = P.plot_activations(["Sigmoid", "ReLU"], GRID)
    left, right = fig.axes
    assert len(left.lines) == 2 + 2  # two curves plus the two axis lines
    assert fig.get_size_inches()[0] == pytest.approx(S.FIG_WIDTH)  # the notebook column's width: shown unshrunk
    sigmoid_derivative = right.lines[0].get_ydata()
    assert max(sigmoid_derivative) == pytest.approx(0.25)


# ----------------------------------------------------------------------------- non-linearity

def stack(sizes, activation=None, seed=0):
    """Notebook 01's stack of Linear layers: the one network builder, in float64."""
    return build_mlp(activation, seed, hidden=sizes[1:-1], in_features=sizes[0], out_features=sizes[-1]).double()


def test_linear_stack_collapses_to_one_linear():
    for sizes, seed in [((4, 6, 3), 1), ((20, 64, 64, 64, 5), 0)]:
        layers = stack(sizes, seed=seed)
        one = T.collapse(layers)
        assert one.weight.shape == (sizes[-1], sizes[0])
        x = torch.randn(1000, sizes[0], dtype=torch.float64)
        with torch.no_grad():
            assert (layers(x) - one(x)).abs().max() < 1e-12


def test_collapse_refuses_a_stack_with_activations():
    with pytest.raises(ValueError, match="activation=None"):
        T.collapse(stack((4, 6, 3), activation="ReLU"))


def test_same_seed_same_stack_and_global_random_state_untouched():
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    a, b = stack((3, 4, 2), seed=7), stack((3, 4, 2), seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_affine_defect_separates_linear_from_nonlinear():
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(50, 8, dtype=torch.float64, generator=g) for _ in range(2))
    assert T.affine_defect(stack((8, 16, 16, 4)), a, b) < 1e-12
    for name in ("Tanh", "ReLU"):
        assert T.affine_defect(stack((8, 16, 16, 4), activation=name), a, b) > 1e-2


# ----------------------------------------------------------------------------- repeated multiplication

@pytest.mark.parametrize("chain", [T.Chain("Sigmoid", 1.0), T.Chain("Sigmoid", 4.0), T.Chain("Tanh", 1.5),
                                   T.Chain("ReLU", 1.5, 1.0), T.Chain("Tanh", 4.0, 0.5)])
def test_chain_gradient_is_the_product_of_factors(chain):
    assert T.chain_gradient(chain, 10) == pytest.approx(math.prod(T.chain_factors(chain, 10)), rel=1e-12)


def test_chain_vanishing_and_exploding():
    assert 0 < T.chain_gradient(T.Chain("Sigmoid", 1.0), 10) <= 0.25 ** 10
    assert T.chain_gradient(T.Chain("Tanh", 1.0), 10) == 1.0
    assert T.chain_gradient(T.Chain("ReLU", 1.5, 1.0), 10) == pytest.approx(1.5 ** 10)
    assert T.chain_gradient(T.Chain("ReLU", 0.5, 1.0), 10) == pytest.approx(0.5 ** 10)
    assert T.chain_gradient(T.Chain("ReLU", 1.0, -1.0), 3) == 0.0  # a negative input: ReLU passes nothing back


def test_plot_chain_gradients_one_curve_per_chain():
    fig = P.plot_chain_gradients([T.Chain("Sigmoid", 1.0), T.Chain("ReLU", 1.5, 1.0)], max_depth=5)
    ax = fig.axes[0]
    curves = [line for line in ax.lines if len(line.get_xdata()) == 5]
    assert len(curves) == 2 and ax.get_yscale() == "log"
    assert curves[1].get_ydata()[-1] == pytest.approx(1.5 ** 5)


# ----------------------------------------------------------------------------- zero-centred

def test_output_means():
    assert T.output_mean("Sigmoid") == pytest.approx(0.5, abs=0.01)
    assert abs(T.output_mean("Tanh")) < 0.01
    assert T.output_mean("ReLU") == pytest.approx(1 / math.sqrt(2 * math.pi), abs=0.01)


def test_same_sign_fraction():
    assert T.same_sign_fraction("Sigmoid") == 1.0
    assert T.same_sign_fraction("ReLU") == 1.0
    assert T.same_sign_fraction("Tanh") == 0.0


# ----------------------------------------------------------------------------- dying ReLU

def toy_net(activation="ReLU", width=100, seed=0):
    """Notebook 01's 10 -> width -> 1 network for the toy regression."""
    return build_mlp(activation, seed, hidden=(width,), in_features=10, out_features=1)


def test_dead_units_and_their_zero_gradient():
    x, y = T.toy_regression(64)
    net = toy_net(width=6)
    assert not T.dead_units(net, x).any()
    with torch.no_grad():
        net.linears()[0].bias[:3] = -100.0  # pushed far negative: dead for every input
    assert T.dead_units(net, x).tolist() == [True] * 3 + [False] * 3
    assert T.dead_unit_gradient(net, x, y) == 0.0


def test_leaky_relu_units_still_get_gradient():
    x, y = T.toy_regression(64)
    net = toy_net("LeakyReLU", width=6)
    with torch.no_grad():
        net.linears()[0].bias[:3] = -100.0
    assert T.dead_unit_gradient(net, x, y) > 0


def test_large_learning_rate_kills_units_that_stay_dead():
    x, y = T.toy_regression()
    net = toy_net()
    T.train_sgd(net, x, y, lr=0.3)
    dead = T.dead_units(net, x)
    assert dead.float().mean() > 0.2
    T.train_sgd(net, x, y, lr=0.05, steps=50)
    assert torch.equal(T.dead_units(net, x), dead)


def test_train_sgd_runs_on_one_thread_and_restores_the_count():
    before, seen = torch.get_num_threads(), []
    net = toy_net(width=4)
    net.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    x, y = T.toy_regression(16)
    T.train_sgd(net, x, y, lr=0.05, steps=2)
    assert seen == [1, 1] and torch.get_num_threads() == before


def test_train_sgd_lowers_the_loss():
    x, y = T.toy_regression()
    net = toy_net()
    with torch.no_grad():
        start = ((net(x) - y) ** 2).mean().item()
    assert T.train_sgd(net, x, y, lr=0.05, steps=50) < start


# ----------------------------------------------------------------------------- the explorer widget

def test_explorer_updates_on_slider_and_dropdown():
    box = P.explore_activation()
    assert "Sigmoid" in box.html.value and "f(x) = <b>0.5000</b>" in box.html.value
    box.slider.value = 2.0
    assert "x = 2.00" in box.html.value and f"f(x) = <b>{1 / (1 + math.exp(-2)):.4f}</b>" in box.html.value
    box.dropdown.value = "ReLU"
    assert "<b>ReLU</b>" in box.html.value and "f′(x) = <b>1.0000</b>" in box.html.value
    box.slider.value = -1.0
    assert "f(x) = <b>0.0000</b>" in box.html.value and "f′(x) = <b>0.0000</b>" in box.html.value
    assert "data:image/png;base64," in box.html.value


def test_explorer_uses_only_core_widgets_and_creates_no_pyplot_figure():
    import ipywidgets as w

    before = plt.get_fignums()
    box = P.explore_activation(["Tanh"], x=1.0)
    box.slider.value = 0.5
    assert plt.get_fignums() == before
    kinds = {type(c) for c in (box, *box.children, *box.children[0].children)}
    assert kinds <= {w.VBox, w.HBox, w.Dropdown, w.FloatSlider, w.HTML}


# ----------------------------------------------------------------------------- notebook 02

def test_plot_samples_titles_are_labels():
    data = [(torch.zeros(1, 28, 28), label) for label in range(10)]
    fig = P.plot_samples(data, n=10, columns=5)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [f"label {i}" for i in range(10)]
    assert fig.get_size_inches()[0] == pytest.approx(S.FIG_WIDTH)  # the notebook column's width: shown unshrunk


def test_plot_value_histograms_one_panel_per_tensor():
    fig = P.plot_value_histograms({"raw": torch.tensor([0, 0, 255]), "scaled": torch.tensor([0.0, 0.0, 1.0])}, bins=2)
    assert [ax.get_title() for ax in fig.axes] == ["raw", "scaled"]
    counts = [patch.get_height() for patch in fig.axes[0].patches]
    assert counts == [2, 1]


def test_value_summary():
    s = T.value_summary(torch.tensor([0, 255], dtype=torch.uint8))
    assert (s["min"], s["max"], s["mean"]) == (0.0, 255.0, 127.5)


def test_layer_parameter_counts_of_the_practical_mlp():
    rows = T.layer_parameter_counts(MLP("ReLU"))
    assert rows == [("784 → 256", 200704, 256), ("256 → 128", 32768, 128), ("128 → 10", 1280, 10)]
    assert sum(w + b for _, w, b in rows) == count_parameters(MLP("ReLU")) == 235146
