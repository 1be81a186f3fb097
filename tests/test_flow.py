"""Tests for helpers/flow.py: hooks, saturation and dead-unit counts, gradient ratios, the disk cache."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from torch import nn

from helpers import History, build_mlp, train_together
from helpers.data import MNISTTensors
from helpers.flow import (CACHE_VARIABLE, SATURATION_THRESHOLD, activation_variance, cache_dir, cache_path,
                          cached, capture_activations, dead_fraction, derivative_from_output, first_last_ratio,
                          history_ratio, key_json, layer_grad_norms_at_init, layer_series, load_cached, mean_std,
                          saturated_fraction, saturation_per_layer)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 784, generator=g), torch.randint(0, 10, (32,), generator=g)


def tiny_data(n_train: int = 128, n_test: int = 64) -> MNISTTensors:
    g = torch.Generator().manual_seed(1)
    return MNISTTensors(torch.randn(n_train, 784, generator=g), torch.randint(0, 10, (n_train,), generator=g),
                        torch.randn(n_test, 784, generator=g), torch.randint(0, 10, (n_test,), generator=g))


# ----------------------------------------------------------------------------- hooks

def test_capture_activations_matches_a_manual_forward_pass_and_removes_its_hooks(batch):
    x, _ = batch
    model = build_mlp("Tanh", 0, hidden=(16, 8, 4))
    outs = capture_activations(model, x)
    assert [tuple(a.shape) for a in outs] == [(32, 16), (32, 8), (32, 4)]
    l1, l2, _, _ = model.linears()
    assert torch.allclose(outs[0], torch.tanh(l1(x)))
    assert torch.allclose(outs[1], torch.tanh(l2(outs[0])))
    assert all(not m._forward_hooks for m in model.modules())


def test_activation_variance_is_per_layer(batch):
    x, _ = batch
    model = build_mlp("ReLU", 0, hidden=(16, 16))
    outs = capture_activations(model, x)
    assert activation_variance(model, x) == pytest.approx([a.var().item() for a in outs])


# ----------------------------------------------------------------------------- saturation, dead units

def test_derivative_from_output_matches_autograd():
    z = torch.linspace(-6, 6, 101, requires_grad=True)
    for name, f in (("Sigmoid", torch.sigmoid), ("Tanh", torch.tanh)):
        (d,) = torch.autograd.grad(f(z).sum(), z)
        assert torch.allclose(derivative_from_output(name, f(z).detach()), d, atol=1e-6)
    with pytest.raises(ValueError):
        derivative_from_output("ReLU", z)


def test_saturated_fraction_on_hand_made_values():
    # sigmoid'(z) < 0.01 * 0.25  <=>  |z| > about 5.99; tanh'(z) < 0.01  <=>  |z| > about 2.99
    z = torch.tensor([[0.0, 1.0, 5.0, 7.0, -8.0]])
    assert saturated_fraction("Sigmoid", torch.sigmoid(z)) == pytest.approx(2 / 5)
    assert saturated_fraction("Tanh", torch.tanh(z)) == pytest.approx(3 / 5)
    assert saturated_fraction("Tanh", torch.tanh(z), threshold=1e-9) == 0.0
    assert SATURATION_THRESHOLD == 0.01


def test_dead_fraction_counts_units_zero_for_every_input():
    a = torch.tensor([[0.0, 1.0, 0.0, 0.0],
                      [0.0, 0.0, 2.0, 0.0],
                      [0.0, 0.0, 0.0, 0.0]])
    assert dead_fraction(a) == pytest.approx(2 / 4)  # columns 0 and 3


def test_saturation_per_layer_on_a_network_forced_into_saturation_and_death(batch):
    x, _ = batch
    sig = build_mlp("Sigmoid", 0, hidden=(8, 8))
    relu = build_mlp("ReLU", 0, hidden=(8, 8))
    with torch.no_grad():
        for model in (sig, relu):
            first = model.linears()[0]
            first.weight.zero_()
            first.bias.fill_(-50.0)  # every unit of layer 1: z = -50
    assert saturation_per_layer(sig, x)[0] == 1.0
    assert saturation_per_layer(relu, x)[0] == 1.0
    assert saturation_per_layer(relu, x)[1] in (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
    with pytest.raises(ValueError):
        saturation_per_layer(build_mlp("GELU", 0, hidden=(8,)), x)


# ----------------------------------------------------------------------------- gradients

def test_layer_grad_norms_at_init_match_backward_and_leave_grads_alone(batch):
    x, y = batch
    model = build_mlp("Sigmoid", 0, hidden=(16, 8))
    norms = layer_grad_norms_at_init(model, x, y)
    assert all(p.grad is None for p in model.parameters())
    nn.functional.cross_entropy(model(x), y).backward()
    assert norms == pytest.approx([l.weight.grad.norm().item() for l in model.linears()], rel=1e-5)
    assert len(norms) == 3


def test_first_last_ratio_and_history_ratio():
    assert first_last_ratio([1e-3, 0.5, 0.1]) == pytest.approx(1e-2)
    h = History("ReLU", {}, layer_grad_norms=[[1.0, 9.0, 2.0]] * 3 + [[4.0, 9.0, 1.0]] * 3)
    assert history_ratio(h, "start", window=3) == pytest.approx(0.5)
    assert history_ratio(h, "end", window=3) == pytest.approx(4.0)
    assert history_ratio(h, "start", window=6) == pytest.approx(2.5 / 1.5)
    assert layer_series(h)[0] == [1.0] * 3 + [4.0] * 3
    with pytest.raises(ValueError):
        history_ratio(h, "middle")
    with pytest.raises(ValueError):
        history_ratio(History("ReLU", {}), "start")


def test_ratio_from_a_real_training_run_matches_its_recorded_norms():
    runs = train_together(["Sigmoid", "ReLU"], hidden=(16, 16, 16), train_size=128, batch_size=32, epochs=1,
                          progress=False, data=tiny_data(), device="cpu")
    for h in runs.values():
        assert len(h.layer_grad_norms) == 4 and len(h.layer_grad_norms[0]) == 4
        assert history_ratio(h, "start", window=1) == pytest.approx(h.layer_grad_norms[0][0] / h.layer_grad_norms[0][-1])
    # the first recorded iteration is the network at initialisation: same numbers as layer_grad_norms_at_init
    data = tiny_data()
    g = torch.Generator().manual_seed(0)
    first = torch.randperm(128, generator=g)[:32]
    model = build_mlp("ReLU", 0, hidden=(16, 16, 16))
    at_init = layer_grad_norms_at_init(model, data.train_x[first], data.train_y[first])
    assert at_init == pytest.approx(runs["ReLU"].layer_grad_norms[0], rel=1e-4)


def test_mean_std_over_seeds():
    m, s = mean_std([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    assert m.tolist() == [3.0, 2.0]
    assert s.tolist() == pytest.approx([2.0, 0.0])
    assert mean_std([[1.0, 2.0]])[1].tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- cache

class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_cache_miss_then_hit(tmp_path):
    key = {"what": "test", "depth": 3, "hidden": (8, 8)}
    compute = Counter({"acc": [0.5, 0.75]})
    assert cached(key, compute, folder=tmp_path) == {"acc": [0.5, 0.75]}
    assert cached(key, compute, folder=tmp_path) == {"acc": [0.5, 0.75]}
    assert compute.calls == 1
    assert cache_path(key, tmp_path).exists()
    assert not list(tmp_path.glob("*.part"))  # the atomic write left no temporary file


def test_cache_retrain_recomputes(tmp_path):
    key = {"what": "test"}
    compute = Counter(1)
    cached(key, compute, folder=tmp_path)
    compute.value = 2
    assert cached(key, compute, folder=tmp_path, retrain=True) == 2
    assert cached(key, compute, folder=tmp_path) == 2 and compute.calls == 2


def test_cache_key_is_the_full_configuration(tmp_path):
    compute = Counter("a")
    cached({"lr": 0.1, "seed": 0}, compute, folder=tmp_path)
    cached({"seed": 0, "lr": 0.1}, compute, folder=tmp_path)  # same key, other order: a hit
    assert compute.calls == 1
    cached({"lr": 0.1, "seed": 1}, compute, folder=tmp_path)  # any difference: a miss
    assert compute.calls == 2
    assert key_json({"b": [1, 2], "a": (3,)}) == '{"a":[3],"b":[1,2]}'
    with pytest.raises(TypeError):
        key_json({"x": object()})


def test_cache_refuses_a_stale_file_whose_stored_key_differs(tmp_path):
    old, new = {"what": "old"}, {"what": "new"}
    cached(old, Counter("old value"), folder=tmp_path)
    # pretend a hash collision / renamed file: the file for `new` holds `old`'s key
    cache_path(old, tmp_path).replace(cache_path(new, tmp_path))
    assert load_cached(new, tmp_path) == (False, None)
    compute = Counter("new value")
    assert cached(new, compute, folder=tmp_path) == "new value" and compute.calls == 1
    assert load_cached(new, tmp_path) == (True, "new value")


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "old-format"])
def test_cache_refuses_partial_or_corrupt_files(tmp_path, damage):
    key = {"what": "damaged"}
    cached(key, Counter(list(range(1000))), folder=tmp_path)
    path = cache_path(key, tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data = data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:]
    elif damage == "garbage":
        data = b"not a cache file at all"
    elif damage == "empty":
        data = b""
    else:
        data = data.replace(b'"format": 1', b'"format": 0')
    path.write_bytes(data)
    assert load_cached(key, tmp_path) == (False, None)
    compute = Counter("recomputed")
    assert cached(key, compute, folder=tmp_path) == "recomputed" and compute.calls == 1


def test_cache_write_interrupted_keeps_no_partial_file(tmp_path, monkeypatch):
    key = {"what": "interrupted"}

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pickle, "dumps", boom)
    with pytest.raises(KeyboardInterrupt):
        cached(key, Counter(1), folder=tmp_path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    assert load_cached(key, tmp_path) == (False, None)


def test_cache_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    cached({"what": "env"}, Counter(3))
    assert len(list((tmp_path / "elsewhere").glob("*.pkl"))) == 1
    monkeypatch.delenv(CACHE_VARIABLE)
    assert cache_dir().parts[-2:] == ("notebooks", "cache")


def test_cache_round_trips_histories_with_their_models(tmp_path):
    runs = train_together(["Tanh"], hidden=(8,), train_size=64, batch_size=32, epochs=1, progress=False,
                          data=tiny_data(), device="cpu")
    back = cached({"what": "history"}, lambda: runs, folder=tmp_path)
    back = cached({"what": "history"}, lambda: pytest.fail("should be a hit"), folder=tmp_path)
    assert back["Tanh"].to_dict() == runs["Tanh"].to_dict()
    x = torch.randn(4, 784)
    assert torch.equal(back["Tanh"].model(x), runs["Tanh"].model(x))
    assert math.isfinite(back["Tanh"].loss[0])
