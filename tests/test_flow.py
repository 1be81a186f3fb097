"""Tests for helpers/flow.py: hooks, saturation and dead-unit counts, gradient ratios, the disk cache,
the cached sweeps and the try-it panel; and the per-layer figures of helpers/plots.py."""

from __future__ import annotations

import math
import pickle
import stat

import pytest
import torch
from torch import nn

import helpers.flow as flow
import helpers.sweeps as sweeps
from helpers._machinery import cache
from helpers import History, TrainConfig, build_mlp, train_together
from conftest import noise_data, permissions_apply
from helpers.data import MNISTTensors
from helpers._machinery.training import epoch_order
from helpers._machinery.cache import CACHE_FORMAT, CACHE_VARIABLE, cache_dir, cache_path, cached, key_json, load_cached
from helpers.activations import DERIVATIVES
from helpers.flow import (SATURATION_THRESHOLD, activation_variance, capture_activations, first_last_ratio, history_ratio,
                          layer_grad_norms_at_init, layer_shares, mean_std, saturation_per_layer, _stuck)
from helpers.sweeps import _MNIST_DATA, saturation_during_training, sweep, sweep_catching, _sweep_key, try_it_panel
from helpers.plots import (plot_layer_norms, plot_layer_profiles, plot_saturation_by_stage,
                           plot_saturation_during_training)
from helpers.plots.layers import _draw_layer_curves


def tiny_data(n_train: int = 128) -> MNISTTensors:
    """Smaller than the shared fixture: these tests train many times."""
    return noise_data(n_train, 64, seed=1)


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

def test_saturation_reads_the_derivative_from_the_output_alone():
    z = torch.linspace(-6, 6, 101, requires_grad=True)
    for name, f in (("Sigmoid", torch.sigmoid), ("Tanh", torch.tanh)):  # f' from a = f(z), without z
        (d,) = torch.autograd.grad(f(z).sum(), z)
        assert torch.allclose(DERIVATIVES[name](None, f(z).detach()), d, atol=1e-6)
    with pytest.raises(ValueError):
        _stuck("GELU", z, SATURATION_THRESHOLD)


def test_saturated_values_on_hand_made_values():
    # sigmoid'(z) < 0.01 * 0.25  <=>  |z| > about 5.99; tanh'(z) < 0.01  <=>  |z| > about 2.99
    z = torch.tensor([[0.0, 1.0, 5.0, 7.0, -8.0]])
    assert _stuck("Sigmoid", torch.sigmoid(z), SATURATION_THRESHOLD).tolist() == [[False, False, False, True, True]]
    assert _stuck("Tanh", torch.tanh(z), SATURATION_THRESHOLD).tolist() == [[False, False, True, True, True]]
    assert not _stuck("Tanh", torch.tanh(z), 1e-9).any()
    assert SATURATION_THRESHOLD == 0.01


def _identity_relu(units: int) -> nn.Module:
    """A ReLU MLP whose hidden unit j outputs max(0, pixel j): its dead units are set by the images alone."""
    model = build_mlp("ReLU", 0, hidden=(units,))
    with torch.no_grad():
        first = model.linears()[0]
        first.weight.zero_()
        first.weight[:, :units] = torch.eye(units)
        first.bias.zero_()
    return model


def test_a_dead_unit_is_zero_for_every_image_however_the_images_are_chunked():
    x = torch.zeros(5, 784)
    x[:, 1] = torch.tensor([-1.0, -2.0, 0.0, -1.0, 3.0])  # unit 1: alive on the last image only (the last chunk of 2)
    x[:, 2] = 1.0  # unit 2: alive on every image; units 0 and 3: 0 on every image, dead
    model = _identity_relu(4)
    assert saturation_per_layer(model, x) == saturation_per_layer(model, x, chunk=2) == [0.5]
    assert saturation_per_layer(model, x[:4], chunk=3) == [0.75]  # without the last image, unit 1 is dead too


def test_saturated_share_over_chunks_equals_one_pass(batch):
    x, _ = batch
    model = build_mlp("Sigmoid", 0, hidden=(8, 8))
    with torch.no_grad():
        model.linears()[0].weight.mul_(40)  # some values saturate, not all
    shares = saturation_per_layer(model, x)
    assert 0 < shares[0] < 1
    assert saturation_per_layer(model, x, chunk=5) == pytest.approx(shares)


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
    with pytest.raises(ValueError):
        history_ratio(h, "middle")
    with pytest.raises(ValueError):
        history_ratio(History("ReLU", {}), "start")


def test_layer_shares_on_a_hand_made_history():
    """Mean norm per layer, and the mean share ‖∂L/∂W_l‖² / ‖∇θ L‖² (the biases hold the rest)."""
    h = History("Sigmoid", {}, grad_norm=[5.0, 5.0, 10.0],
                layer_grad_norms=[[1.0, 2.0, 4.0], [0.0, 3.0, 4.0], [6.0, 0.0, 8.0]])
    norms, shares = layer_shares(h)
    assert norms == pytest.approx([7 / 3, 5 / 3, 16 / 3])
    assert shares == pytest.approx([(1 / 25 + 0 + 36 / 100) / 3, (4 / 25 + 9 / 25 + 0) / 3, (16 / 25 + 16 / 25 + 64 / 100) / 3])
    assert 1 - sum(shares) == pytest.approx((4 / 25 + 0 + 0) / 3)  # iteration 1's biases: 25 - 1 - 4 - 16 = 4
    norms, shares = layer_shares(h, slice(-1, None))  # the last iteration only
    assert norms == [6.0, 0.0, 8.0] and shares == pytest.approx([0.36, 0.0, 0.64])
    with pytest.raises(ValueError):
        layer_shares(h, slice(5, None))


def test_ratio_from_a_real_training_run_matches_its_recorded_norms():
    runs = train_together(["Sigmoid", "ReLU"], hidden=(16, 16, 16), train_size=128, batch_size=32, epochs=1,
                          progress=False, data=tiny_data(), device="cpu")
    for h in runs.values():
        assert len(h.layer_grad_norms) == 4 and len(h.layer_grad_norms[0]) == 4
        assert history_ratio(h, "start", window=1) == pytest.approx(h.layer_grad_norms[0][0] / h.layer_grad_norms[0][-1])
    # the first recorded iteration is the network at initialisation: same numbers as layer_grad_norms_at_init
    data = tiny_data()
    first = epoch_order(128, torch.Generator().manual_seed(0))[:32]  # the engine's first batch
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
        data = data.replace(f'"format": {CACHE_FORMAT}'.encode(), f'"format": {CACHE_FORMAT - 1}'.encode())
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


def _not_saved(record) -> list[str]:
    return [str(w.message) for w in record if w.category.__name__ == "CacheNotSaved"]


def test_cache_folder_that_is_a_file_warns_once_and_keeps_the_result(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "a-file"))
    with pytest.warns(UserWarning) as record:
        assert cached({"what": "one"}, Counter(1)) == 1
        assert cached({"what": "two"}, Counter(2)) == 2  # the same folder: no second warning
    messages = _not_saved(record)
    assert len(messages) == 1 and str(tmp_path / "a-file") in messages[0] and CACHE_VARIABLE in messages[0]
    assert "kept in memory" in messages[0] and (tmp_path / "a-file").read_text() == "x"


def test_cache_file_that_is_a_folder_warns_and_keeps_the_result(tmp_path):
    key = {"what": "blocked"}
    cache_path(key, tmp_path).mkdir()
    with pytest.warns(UserWarning) as record:
        assert cached(key, Counter([1, 2]), folder=tmp_path) == [1, 2]
    assert len(_not_saved(record)) == 1 and "is a folder" in _not_saved(record)[0]
    assert [p.name for p in tmp_path.iterdir()] == [cache_path(key, tmp_path).name]  # no temporary file left


def test_cache_that_cannot_be_written_warns_and_the_sweep_goes_on(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "shared"))
    monkeypatch.setattr(cache, "atomic_write_bytes", refuse)
    with pytest.warns(UserWarning) as record:
        runs = sweep("read-only", ["ReLU"], TINY, data=tiny_data(), data_name="noise", progress=False)
    assert len(runs["ReLU"].test_acc) == 1
    assert "Permission denied" in _not_saved(record)[0] and str(tmp_path / "shared") in _not_saved(record)[0]


@pytest.mark.skipif(not permissions_apply(), reason="file permissions do not apply to this user (root)")
def test_read_only_cache_folder_warns_and_keeps_the_result(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.warns(UserWarning, match="could not be saved"):
            assert cached({"what": "ro"}, Counter(5), folder=folder) == 5
    finally:
        folder.chmod(stat.S_IRWXU)


def test_cache_round_trips_histories_with_their_models(tmp_path):
    runs = train_together(["Tanh"], hidden=(8,), train_size=64, batch_size=32, epochs=1, progress=False,
                          data=tiny_data(), device="cpu")
    back = cached({"what": "history"}, lambda: runs, folder=tmp_path)
    back = cached({"what": "history"}, lambda: pytest.fail("should be a hit"), folder=tmp_path)
    assert back["Tanh"].to_dict() == runs["Tanh"].to_dict()
    x = torch.randn(4, 784)
    assert torch.equal(back["Tanh"].model(x), runs["Tanh"].model(x))
    assert math.isfinite(back["Tanh"].loss[0])


# ----------------------------------------------------------------------------- cached sweeps

TINY = TrainConfig(hidden=(16, 16, 16), train_size=128, batch_size=32, epochs=1, device="cpu")
EXPLODING = TrainConfig(hidden=(16,) * 4, init="he", optimizer="sgd", momentum=0.9, lr=10.0, train_size=128,
                        batch_size=32, epochs=2, device="cpu")  # LeakyReLU: the loss is inf at iteration 5


@pytest.fixture
def trainings(monkeypatch, tmp_path):
    """Cache in a temporary folder; counts the trainings flow starts (a cache hit starts none)."""
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0])
        return train_together(*args, **kwargs)

    monkeypatch.setattr(sweeps, "train_together", counting)
    return calls


def test_sweep_key_holds_the_full_configuration():
    key = _sweep_key("depth", TINY, ["relu", "Sigmoid"])
    assert key == {"what": "depth", "config": {**TINY.__dict__, "hidden": [16, 16, 16]},
                   "activations": ["ReLU", "Sigmoid"], "data": _MNIST_DATA}
    assert key_json(key)  # plain JSON
    assert _sweep_key("depth", TINY, ["ReLU"], data_name="noise")["data"] == "noise"
    assert _sweep_key("depth", TINY, ["ReLU"], extra=1)["extra"] == 1


def test_sweep_trains_once_then_loads_from_the_cache(trainings, tmp_path):
    first = sweep("tiny", ["Sigmoid", "ReLU"], TINY, data=tiny_data(), data_name="noise", progress=False)
    assert len(trainings) == 1 and cache_path(_sweep_key("tiny", TINY, ["Sigmoid", "ReLU"], data_name="noise")).exists()
    again = sweep("tiny", ["Sigmoid", "ReLU"], TINY, data=tiny_data(), data_name="noise", progress=False)
    assert len(trainings) == 1  # a hit: nothing trained
    assert {n: h.to_dict() for n, h in again.items()} == {n: h.to_dict() for n, h in first.items()}
    assert torch.equal(again["ReLU"].model(torch.ones(2, 784)), first["ReLU"].model(torch.ones(2, 784)))
    # any other setting, activation list or data description is another key: a miss
    sweep("tiny", ["Sigmoid", "ReLU"], TrainConfig(**{**TINY.__dict__, "lr": 0.01}), data=tiny_data(),
          data_name="noise", progress=False)
    sweep("tiny", ["ReLU"], TINY, data=tiny_data(), data_name="noise", progress=False)
    sweep("tiny", ["Sigmoid", "ReLU"], TINY, data=tiny_data(), data_name="other noise", progress=False)
    assert len(trainings) == 4
    sweep("tiny", ["Sigmoid", "ReLU"], TINY, data=tiny_data(), data_name="noise", progress=False, retrain=True)
    assert len(trainings) == 5 and len(list(tmp_path.glob("*.pkl"))) == 4


def test_sweep_catching_returns_what_was_recorded_before_the_divergence(trainings):
    runs, message = sweep_catching("explode", ["LeakyReLU"], EXPLODING, data=tiny_data(), data_name="noise",
                                   progress=False)
    h = runs["LeakyReLU"]
    assert message is not None and "NaN or infinite" in message
    assert 0 < len(h.loss) < 8 and f"iteration {len(h.loss) + 1} " in message and all(math.isfinite(v) for v in h.loss)
    assert sweep_catching("explode", ["LeakyReLU"], EXPLODING, data=tiny_data(), data_name="noise",
                          progress=False)[1] == message
    assert len(trainings) == 1  # the divergence was cached too
    clipped = TrainConfig(**{**EXPLODING.__dict__, "clip_grad_norm": 1.0, "lr": 0.01})
    runs, message = sweep_catching("explode", ["LeakyReLU"], clipped, data=tiny_data(), data_name="noise",
                                   progress=False)
    assert message is None and len(runs["LeakyReLU"].test_acc) == 2
    # a plain sweep of the same configuration holds another kind of result: the two never share a file
    assert not cache_path(_sweep_key("explode", clipped, ["LeakyReLU"], data_name="noise")).exists()


def test_saturation_during_training_measures_at_start_and_every_epoch(trainings):
    config = TrainConfig(**{**TINY.__dict__, "epochs": 2})
    curve = saturation_during_training(["Sigmoid", "ReLU"], config, data=tiny_data(), data_name="noise",
                                       eval_images=32, progress=False)
    assert list(curve) == ["Sigmoid", "ReLU"]
    assert [i for i, _ in curve["ReLU"]] == [0, 4, 8]  # 4 iterations per epoch; flushes come every 50
    assert all(len(values) == 3 and all(0 <= v <= 1 for v in values) for n in curve for _, values in curve[n])
    x = tiny_data().train_x[:32]  # measured on the training images
    assert curve["Sigmoid"][0][1] == saturation_per_layer(build_mlp("Sigmoid", 0, hidden=(16, 16, 16)), x)
    again = saturation_during_training(["Sigmoid", "ReLU"], config, data=tiny_data(), data_name="noise",
                                       eval_images=32, progress=False)
    assert again == curve and len(trainings) == 1
    saturation_during_training(["Sigmoid", "ReLU"], config, data=tiny_data(), data_name="noise", eval_images=16,
                               progress=False)
    assert len(trainings) == 2  # measured on other images: another key


# ----------------------------------------------------------------------------- figures and the try-it panel

def test_draw_layer_curves_draws_one_line_per_layer():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    series = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
    lines = _draw_layer_curves(ax, series)
    assert len(lines) == len(ax.lines) == 3
    assert [l.get_label() for l in lines] == ["layer 1", "layer 2", "layer 3"]
    assert len({l.get_color() for l in lines}) == 3  # viridis, one colour per layer
    assert list(lines[1].get_xdata()) == [0, 1, 2] and list(lines[1].get_ydata()) == [4.0, 5.0, 6.0]
    lines = _draw_layer_curves(ax, iter(series[:2]), x=[10, 20, 30], window=2, label="L{i}", fmt="o-")
    assert list(lines[0].get_xdata()) == [10, 20, 30] and list(lines[0].get_ydata()) == [1.0, 1.5, 2.5]
    assert lines[0].get_label() == "L1" and lines[0].get_marker() == "o"
    plt.close(fig)


def test_per_layer_figures():
    import matplotlib.pyplot as plt

    runs = train_together(["Sigmoid", "ReLU"], TINY, progress=False, data=tiny_data())
    fig = plot_layer_norms(runs, "title")
    assert [len(ax.lines) for ax in fig.axes] == [4 + 1, 4 + 1]  # 4 Linear layers and the global norm
    curve = {"Sigmoid": [(0, [0.0, 0.5]), (4, [0.25, 1.0])], "ReLU": [(0, [0.0, 0.0]), (4, [0.5, 0.0])]}
    fig2 = plot_saturation_during_training(curve)
    assert [len(ax.lines) for ax in fig2.axes] == [2, 2]
    assert list(fig2.axes[0].lines[1].get_ydata()) == [50.0, 100.0]
    profiles = {"start": {"Sigmoid": [0.1, 0.2, 0.3], "ReLU": [0.0, 0.0, 0.1]},
                "end": {"Sigmoid": [0.3, 0.2, 0.1], "ReLU": [0.1, 0.0, 0.0]}}
    fig3 = plot_layer_profiles(profiles, "{name}: variance", yscale="log")
    assert [ax.get_title() for ax in fig3.axes] == ["Sigmoid: variance", "ReLU: variance"]
    assert [len(ax.lines) for ax in fig3.axes] == [2, 2] and fig3.axes[0].get_yscale() == "log"
    fig4 = plot_saturation_by_stage(profiles)
    assert "dead units" in fig4.axes[1].get_title() and list(fig4.axes[0].lines[0].get_ydata()) == \
        pytest.approx([10.0, 20.0, 30.0])
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)


def test_try_it_panel_trains_and_shows_a_divergence():
    panel = try_it_panel(tiny_data(640), ["Sigmoid", "LeakyReLU"], train_size=640)
    assert len(panel.picture.value) > 1000 and "test accuracy" in panel.status.value and "ratio" in panel.status.value
    assert set(panel.controls) == {"depth", "activation", "optimizer", "init", "lr"}
    first = panel.picture.value
    for name, value in (("activation", "LeakyReLU"), ("init", "he"), ("depth", 8), ("lr", 1.0)):
        panel.controls[name].value = value
    panel.train()  # SGD, lr 1: the loss is inf at iteration 6 of 10
    assert panel.status.value.startswith("diverged (loss NaN): The loss of LeakyReLU became NaN")
    assert "ratio" in panel.status.value and panel.picture.value != first
    quiet = try_it_panel(tiny_data(), run_now=False)
    assert quiet.picture.value == b"" and quiet.status.value == ""


BLOWING_UP = TrainConfig(optimizer="sgd", momentum=0.0, lr=5.0, train_size=640, epochs=2, device="cpu")


def test_a_sweep_that_blew_up_without_nan_says_so_trained_and_from_the_cache(trainings):
    for _ in range(2):  # trained, then loaded: the warning comes both times
        with pytest.warns(UserWarning) as record:
            runs, diverged = sweep_catching("blow-up", ["ReLU"], BLOWING_UP, data=noise_data(), data_name="noise",
                                            progress=False)
        unstable = [str(w.message) for w in record if w.category.__name__ == "TrainingUnstable"]
        assert diverged is None and len(unstable) == 1 and unstable == runs["ReLU"].warnings
        assert "blew up" in unstable[0] and len(runs["ReLU"].test_acc) == 2
    assert len(trainings) == 1


def test_try_it_panel_note_says_a_blow_up_without_nan():
    h = History("ReLU", {}, loss=[2.3, 5e3, 2.3], test_acc=[0.1], warnings=["The ReLU run blew up ..."])
    assert sweeps._panel_note(h, None) == "test accuracy 10.00 % — ⚠ the loss blew up to 5e+03 without becoming NaN: " \
                                        "lower the learning rate"
    assert sweeps._panel_note(History("ReLU", {}, test_acc=[0.9]), None) == "test accuracy 90.00 %"
    assert sweeps._panel_note(h, "The loss of ReLU became NaN: ...").startswith("diverged (loss NaN): The loss of ReLU")
