"""Tests for helpers/remedies.py (notebook 07): batch-norm and residual networks from build_mlp's weights, trained
with plain autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import build_mlp
from helpers.flow import layer_grad_norms_at_init
from helpers.remedies import KINDS, batchnorm_factors, build_net, remedy_run, train_net

NAMES = ("Sigmoid", "Tanh", "ReLU")


def images(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("name", NAMES)
def test_every_kind_starts_from_build_mlps_weights(name):
    mlp = build_mlp(name, 3, hidden=(128,) * 10)
    for kind in KINDS:
        net = build_net(name, 3, depth=10, width=128, kind=kind)
        assert len(net.linears) == 11
        for a, b in zip(net.linears, mlp.linears()):
            assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    x, _ = images()
    assert torch.equal(build_net(name, 3, kind="plain")(x), mlp(x))  # the plain kind is the MLP itself


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="batchnorm"):
        build_net("ReLU", 0, kind="layernorm")


@pytest.mark.parametrize("name", ["Tanh", "ReLU"])  # f(0) = 0: a block with zero weights adds nothing
def test_the_identity_path_carries_the_gradient_to_layer_1_unchanged(name):
    """All hidden blocks' weights and biases 0: the residual net's layer-1 gradient is that of the network made of its
    first and last layers alone (the gradient came back through nine skips unchanged); the plain net's is 0."""
    x, y = images()
    nets = {kind: build_net(name, 0, depth=10, width=16, kind=kind) for kind in ("plain", "residual")}
    for net in nets.values():
        with torch.no_grad():
            for linear in net.linears[1:-1]:
                linear.weight.zero_()
                linear.bias.zero_()
    first, last = nets["residual"].linears[0], nets["residual"].linears[-1]
    act = nets["residual"].acts[0]
    short = F.cross_entropy(last(act(first(x))), y)
    expected = torch.autograd.grad(short, first.weight)[0]
    got = torch.autograd.grad(F.cross_entropy(nets["residual"](x), y), first.weight)[0]
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-8)
    assert expected.norm() > 1e-3
    plain = torch.autograd.grad(F.cross_entropy(nets["plain"](x), y), nets["plain"].linears[0].weight)[0]
    assert plain.abs().max() == 0


def test_batch_norm_in_eval_mode_uses_its_running_averages():
    x, _ = images(64)
    net = build_net("Sigmoid", 0, depth=3, width=16, kind="batchnorm")
    net.train()
    for k in range(5):  # running averages move towards the batch statistics
        net(images(64, seed=k + 1)[0])
    net.eval()
    out = net(x)
    torch.testing.assert_close(net(x[:1]), out[:1])  # an image's prediction does not depend on its batch
    h = x
    for linear, norm, act in zip(net.linears[:-1], net.norms, net.acts):
        z = linear(h)
        assert not torch.allclose(norm.running_mean, torch.zeros_like(norm.running_mean))
        h = act((z - norm.running_mean) / (norm.running_var + norm.eps).sqrt() * norm.weight + norm.bias)
    torch.testing.assert_close(out, net.linears[-1](h))
    net.train()
    assert not torch.allclose(net(x), out)  # in training mode: the batch's own statistics


def test_the_recorded_norms_are_autograds_on_the_first_batch(tiny_data):
    """train_size = one batch: the first recorded per-layer norms are the gradient norms at the initial weights."""
    for kind in KINDS:
        net = build_net("Tanh", 1, depth=4, width=32, kind=kind)
        expected = layer_grad_norms_at_init(build_net("Tanh", 1, depth=4, width=32, kind=kind),
                                            tiny_data.train_x[:64], tiny_data.train_y[:64])
        h = train_net(net, tiny_data, seed=1, train_size=64, epochs=1)
        assert len(h.layer_grad_norms) == 1 and len(h.test_acc) == 1 and h.config["kind"] == kind
        torch.testing.assert_close(torch.tensor(h.layer_grad_norms[0]), torch.tensor(expected), rtol=1e-5, atol=0)
        assert not net.linears[0].weight.equal(build_net("Tanh", 1, depth=4, width=32, kind=kind).linears[0].weight)


def test_runs_are_cached(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    first = remedy_run("ReLU", "residual", tiny_data, depth=3, width=16, train_size=128)
    assert len(list(tmp_path.glob("*.pkl"))) == 1
    again = remedy_run("ReLU", "residual", tiny_data, depth=3, width=16, train_size=128)
    assert again.loss == first.loss and again.seconds == first.seconds  # loaded, not trained again


def test_batchnorm_factors_keep_sigmoids_slope_under_a_quarter():
    slopes, gains = batchnorm_factors(build_net("Sigmoid", 0, depth=5, width=64, kind="batchnorm"), images(256)[0])
    assert len(slopes) == len(gains) == 5
    assert all(0.15 < s <= 0.25 for s in slopes) and all(g > 0 for g in gains)
