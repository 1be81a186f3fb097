"""The training engine: same numbers as separate MLPs, the practical's gradient norm, guards, determinism."""

import math

import pytest
import torch
import torch.nn.functional as F

import helpers
from conftest import random_batch as batch
from helpers._machinery import engine
from helpers.data import MNISTTensors
from helpers._machinery.engine import FusedAdam, StackedMLP, activation_backward, private_fast_paths
from helpers.activations import DERIVATIVES
from helpers.model import build_mlp
from helpers._machinery.training import epoch_order
from helpers.history import TrainingDiverged, TrainingInterrupted
from helpers.practical import global_grad_norm
from helpers.train import TrainConfig

NAMES = ["Sigmoid", "Tanh", "ReLU", "GELU"]


def test_stacked_forward_and_gradients_equal_separate_mlps():
    mlps = [build_mlp(n, seed=1, hidden=(32, 16, 8)) for n in NAMES]
    stacked = StackedMLP(mlps)
    x, y = batch()
    logits = stacked(x)
    F.cross_entropy(logits.reshape(-1, 10), y.repeat(len(NAMES)), reduction="none").view(len(NAMES), -1).mean(1).sum().backward()
    total, per_layer = stacked.grad_norms()
    for i, mlp in enumerate(mlps):
        out = mlp(x)
        assert torch.allclose(out, logits[i], atol=1e-5)
        F.cross_entropy(out, y).backward()
        grads = [p.grad for p in mlp.parameters()]
        assert torch.allclose(total[i], torch.nn.utils.get_total_norm(grads), rtol=1e-5)
        assert math.isclose(total[i].item(), global_grad_norm(mlp), rel_tol=1e-5)  # the practical's loop
        for layer, norm in zip(mlp.linears(), per_layer[i]):
            assert torch.allclose(norm, layer.weight.grad.norm(), rtol=1e-5)


def test_hand_written_backward_equals_autograd_for_every_activation():
    names = list(helpers.ACTIVATIONS)
    assert set(DERIVATIVES) == set(names)
    stacked = StackedMLP([build_mlp(n, seed=4, hidden=(32, 16, 8)) for n in names])
    x, y = batch(seed=1)
    x = x * 3  # inputs large enough to reach every part of each activation
    logits = stacked(x)
    losses = F.cross_entropy(logits.reshape(-1, 10), y.repeat(len(names)), reduction="none").view(len(names), -1).mean(1)
    losses.sum().backward()
    expected = [p.grad.clone() for p in stacked.parameters()]
    for p in stacked.parameters():
        p.grad = None
    hand_logits, hand_losses = stacked.forward_backward(x, y)
    assert torch.allclose(hand_logits, logits, atol=1e-6) and torch.allclose(hand_losses, losses, atol=1e-6)
    for p, g in zip(stacked.parameters(), expected):
        assert p.grad.shape == g.shape and torch.allclose(p.grad, g, rtol=1e-4, atol=1e-7)


def test_global_grad_norm_is_the_practical_definition():
    mlp = build_mlp("ReLU", seed=0)
    x, y = batch()
    F.cross_entropy(mlp(x), y).backward()
    returned = torch.nn.utils.clip_grad_norm_(mlp.parameters(), max_norm=float("inf"))
    assert math.isclose(global_grad_norm(mlp), returned.item(), rel_tol=1e-6)


def test_stacked_adam_steps_equal_separate_adam_steps():
    mlps = [build_mlp(n, seed=2, hidden=(32, 16)) for n in NAMES[:3]]
    stacked = StackedMLP(mlps)
    opt = torch.optim.Adam(stacked.parameters(), lr=1e-2)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in mlps]
    for step in range(20):
        x, y = batch(seed=step)
        opt.zero_grad()
        F.cross_entropy(stacked(x).reshape(-1, 10), y.repeat(3), reduction="none").view(3, -1).mean(1).sum().backward()
        opt.step()
        for mlp, o in zip(mlps, opts):
            o.zero_grad()
            F.cross_entropy(mlp(x), y).backward()
            o.step()
    for trained, reference in zip(stacked.to_mlps(), mlps):
        for p, q in zip(trained.parameters(), reference.parameters()):
            assert torch.allclose(p, q, atol=1e-5)


def test_fused_adam_is_torch_adam_bit_for_bit():
    nets = [build_mlp("Tanh", seed=3, hidden=(32, 16)) for _ in range(3)]
    start = [p.detach().clone() for p in nets[0].parameters()]
    ours = FusedAdam(nets[0].parameters(), lr=1e-2)
    torch_fused = torch.optim.Adam(nets[1].parameters(), lr=1e-2, fused=True)
    torch_default = torch.optim.Adam(nets[2].parameters(), lr=1e-2)
    for step in range(25):
        x, y = batch(seed=step)
        for net in nets:
            net.zero_grad()
            F.cross_entropy(net(x), y).backward()
        for opt in (ours, torch_fused, torch_default):
            opt.step()
    for p, q, r, p0 in zip(*(net.parameters() for net in nets), start):
        assert not torch.equal(p, p0)  # it trained
        assert torch.equal(p, q)  # the same kernel on the same state: identical bits
        assert torch.allclose(p, r, atol=1e-5)  # and PyTorch's default (foreach) Adam agrees to rounding
    assert ours.t.item() == 25


@pytest.mark.parametrize("public", [False, True], ids=["as found", "public only"])
def test_activation_backward_is_the_chain_rule(public, monkeypatch):
    if public:
        monkeypatch.setenv(engine.PUBLIC_ONLY_VARIABLE, "1")
    private_fast_paths.cache_clear()
    assert set(engine._FUSED_CHAIN_RULE) <= set(DERIVATIVES)
    z = torch.linspace(-6, 6, 1201).view(1, -1)  # includes z = 0 exactly
    upstream = torch.randn(3, 1201, generator=torch.Generator().manual_seed(0))
    for name in helpers.ACTIVATIONS:
        a = helpers.make_activation(name)(z)
        expected = upstream * DERIVATIVES[name](z, a)
        got = activation_backward(name, upstream, z, a)
        assert torch.allclose(got, expected, rtol=1e-6, atol=1e-7), name
    assert private_fast_paths() == (frozenset() if public else private_fast_paths())
    private_fast_paths.cache_clear()


def test_private_paths_found_here_and_refused_when_they_misbehave(monkeypatch):
    private_fast_paths.cache_clear()
    assert private_fast_paths() == {"adam", "backward"}  # this torch has both, and both agree
    monkeypatch.setattr(torch, "_fused_adam_", lambda *args, **kwargs: None)  # a kernel that does nothing
    monkeypatch.setattr(engine, "_FUSED_CHAIN_RULE", {**engine._FUSED_CHAIN_RULE, "Tanh": lambda g, z, a: g})
    private_fast_paths.cache_clear()
    assert private_fast_paths() == frozenset()
    assert isinstance(engine.adam([torch.nn.Parameter(torch.ones(2))], 1e-3, torch.device("cpu")), torch.optim.Adam)
    monkeypatch.delattr(torch, "_fused_adam_")  # a release without it
    private_fast_paths.cache_clear()
    assert "adam" not in private_fast_paths()
    private_fast_paths.cache_clear()


def test_public_fallback_trains_to_the_same_numbers(tiny_data, monkeypatch):
    private_fast_paths.cache_clear()
    fast = helpers.train_together(["Sigmoid", "Tanh", "ReLU"], epochs=2, data=tiny_data, progress=False)
    monkeypatch.setenv(engine.PUBLIC_ONLY_VARIABLE, "1")
    private_fast_paths.cache_clear()
    public = helpers.train_together(["Sigmoid", "Tanh", "ReLU"], epochs=2, data=tiny_data, progress=False)
    private_fast_paths.cache_clear()
    for name in fast:  # the same arithmetic but for rounding: f' from the one table, then times the upstream gradient
        assert fast[name].loss != [] and len(fast[name].loss) == len(public[name].loss) == 20
        for a, b in ((fast[name].loss, public[name].loss), (fast[name].grad_norm, public[name].grad_norm)):
            assert torch.allclose(torch.tensor(a), torch.tensor(b), rtol=1e-5, atol=0), name
        if name == "ReLU":  # the step lets the gradient through or not: no rounding at all, bit for bit
            assert fast[name].loss == public[name].loss and fast[name].test_acc == public[name].test_acc


def test_per_model_clipping_equals_clip_grad_norm():
    mlps = [build_mlp(n, seed=5, hidden=(32, 16)) for n in NAMES[:2]]
    stacked = StackedMLP(mlps)
    x, y = batch()
    F.cross_entropy(stacked(x).reshape(-1, 10), y.repeat(2), reduction="none").view(2, -1).mean(1).sum().backward()
    total, _ = stacked.grad_norms()
    stacked.clip_grads_(total, 0.1)
    assert torch.allclose(stacked.grad_norms()[0], torch.full((2,), 0.1), rtol=1e-4)


def test_history_shapes_callback_and_trained_models(tiny_data):
    events = []
    runs = helpers.train_together(["Sigmoid", "ReLU"], epochs=2, batch_size=64, data=tiny_data, progress=False,
                                  callback=events.append)
    for h in runs.values():
        assert len(h.loss) == len(h.grad_norm) == len(h.layer_grad_norms) == 2 * 10  # 640 / 64 per epoch
        assert len(h.layer_grad_norms[0]) == 3 and len(h.train_acc) == len(h.test_acc) == 2
        assert all(0 <= a <= 1 for a in h.train_acc + h.test_acc)
        assert h.config["epochs"] == 2 and h.config["device"] == "cpu" and h.seconds > 0
        assert isinstance(h.model, helpers.MLP) and h.to_dict()["loss"] == h.loss
    assert [e.epoch_end for e in events][-1] and events[-1].iteration == events[-1].total_iterations == 20
    now = events[-1].models()
    for name, h in runs.items():  # the snapshot at the end is the trained network
        for p, q in zip(now[name].parameters(), h.model.parameters()):
            assert torch.equal(p, q)
    acc, _ = helpers.evaluate(runs["ReLU"].model, tiny_data.test_x, tiny_data.test_y)
    assert math.isclose(acc.item(), runs["ReLU"].test_acc[-1], abs_tol=1e-6)


def test_last_smaller_batch_counts_like_dataloader(tiny_data):
    h = helpers.train("ReLU", epochs=1, batch_size=100, data=tiny_data, progress=False)
    assert len(h.loss) == 7 and h.iterations_per_epoch == 7  # 6 x 100 + 40, as DataLoader


def test_same_seed_same_numbers_and_same_start_for_every_activation():
    first = helpers.train_together(["Sigmoid", "ReLU"], epochs=1, train_size=50 * 64, progress=False)
    again = helpers.train_together(["Sigmoid", "ReLU"], epochs=1, train_size=50 * 64, progress=False)
    for name in first:
        assert first[name].loss[:50] == again[name].loss[:50]
        assert first[name].grad_norm[:50] == again[name].grad_norm[:50]
    other = helpers.train_together(["Sigmoid", "ReLU"], epochs=1, train_size=50 * 64, seed=1, progress=False)
    assert other["ReLU"].loss[:50] != first["ReLU"].loss[:50]


def test_nan_loss_stops_with_the_history_so_far(tiny_data):
    poisoned = tiny_data.train_x.clone()
    poisoned[123] = float("nan")
    data = MNISTTensors(poisoned, tiny_data.train_y, tiny_data.test_x, tiny_data.test_y)
    first_order = epoch_order(640, torch.Generator().manual_seed(0))  # the engine's epoch 1
    bad_iteration = int((first_order == 123).nonzero()) // 64 + 1
    with pytest.raises(TrainingDiverged, match=rf"ReLU became NaN or infinite at iteration {bad_iteration} .*"
                                                r"Lower the learning rate"):
        try:
            helpers.train_together(["ReLU"], epochs=3, data=data, progress=False)
        except TrainingDiverged as err:
            assert len(err.runs["ReLU"].loss) == bad_iteration - 1
            assert all(math.isfinite(v) for v in err.runs["ReLU"].loss)
            raise


def test_interrupt_keeps_what_was_recorded(tiny_data):
    def stop_in_epoch_two(progress):
        if progress.epoch == 2 and progress.epoch_end:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match=r"interrupted after 2 full epoch.*`\.runs`") as info:
        helpers.train_together(["Tanh"], epochs=5, data=tiny_data, progress=False, callback=stop_in_epoch_two)
    h = info.value.runs["Tanh"]
    assert len(h.train_acc) == 2 and len(h.loss) == 20 and h.model is not None
    assert isinstance(info.value, KeyboardInterrupt)  # Jupyter still treats it as an interrupt


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, "epochs must be a whole number >= 1"),
    ({"epochs": 2.5}, "epochs must be a whole number"),
    ({"batch_size": 0}, "batch_size must be"),
    ({"lr": -1e-3}, r"lr must be a number in \(0, 10\]"),
    ({"lr": float("nan")}, "lr must be"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd"),
    ({"init": "zeros"}, "init must be one of"),
    ({"momentum": 1.5}, "momentum must be"),
    ({"clip_grad_norm": 0}, "clip_grad_norm must be > 0"),
    ({"seed": 1.5}, r"seed must be a whole number from 0 to 2\*\*63 - 1, got 1.5"),
    ({"seed": 2 ** 64}, "seed must be a whole number from 0 to"),
    ({"seed": -1}, "seed must be a whole number from 0 to"),
    ({"hidden": 5}, r"hidden must be a tuple of layer sizes, e.g. \(256, 128\), got 5"),
    ({"hidden": "256"}, "hidden must be a tuple of layer sizes"),
    ({"hidden": (256, 1.5)}, r"hidden must be a tuple of layer sizes.*got \(256, 1.5\)"),
])
def test_bad_settings_are_refused_with_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_unknown_or_repeated_activation_is_refused(tiny_data):
    with pytest.raises(ValueError, match="Choose one of"):
        helpers.train("Swish", data=tiny_data, progress=False)
    with pytest.raises(ValueError, match="different activations"):
        helpers.train_together(["ReLU", "relu"], data=tiny_data, progress=False)


def test_a_plain_string_is_not_a_list_of_activations(tiny_data):
    with pytest.raises(ValueError, match=r"give a list of activations, e.g. \['ReLU'\]"):
        helpers.train_together("ReLU", data=tiny_data, progress=False)


def test_a_seed_at_the_top_of_the_range_trains(tiny_data):
    h = helpers.train("ReLU", epochs=1, seed=2 ** 63 - 1, data=tiny_data, progress=False)
    assert len(h.loss) == 10


def test_device_choice():
    assert helpers.pick_device("cpu").type == "cpu"
    for other in ("meta", "xla"):
        with pytest.raises(ValueError, match=f"device must be cpu, cuda or mps.*got '{other}'"):
            helpers.pick_device(other)
    if not torch.cuda.is_available():
        assert helpers.pick_device().type in ("cpu", "mps")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            helpers.pick_device("cuda")


def test_sgd_with_and_without_momentum_trains(tiny_data):
    for momentum in (0.0, 0.9):
        h = helpers.train("ReLU", epochs=1, optimizer="sgd", momentum=momentum, lr=0.05, data=tiny_data, progress=False)
        assert len(h.loss) == 10 and all(math.isfinite(v) for v in h.loss)


# ----------------------------------------------------------------------------- a blow-up that never becomes NaN

def _unstable(record) -> list[str]:
    return [str(w.message) for w in record if w.category.__name__ == "TrainingUnstable"]


def test_a_loss_that_blows_up_without_nan_is_a_warning_recorded_on_the_history(tiny_data):
    with pytest.warns(UserWarning) as record:  # SGD at lr 5: the loss reaches ~1e9, then ReLU dies at ~2.3
        h = helpers.train("ReLU", epochs=2, optimizer="sgd", momentum=0.0, lr=5, data=tiny_data, progress=False)
    assert len(h.test_acc) == 2 and all(math.isfinite(v) for v in h.loss)  # it finished: no exception
    assert len(_unstable(record)) == 1 and h.warnings == _unstable(record)
    message = h.warnings[0]
    assert "ReLU" in message and "ln 10" in message and "still finite (not NaN)" in message
    assert "Lower the learning rate" in message and "test accuracy" in message
    assert h.to_dict()["warnings"] == h.warnings  # results.json keeps it
    calm = helpers.train("ReLU", epochs=1, optimizer="sgd", lr=0.05, data=tiny_data, progress=False)
    assert not any("blew up" in w for w in calm.warnings)  # noise: it may learn nothing, but nothing blew up


def test_instability_is_losses_far_above_ln_10_over_several_iterations_or_an_infinite_gradient_norm():
    from helpers._machinery.training import instability
    from helpers.history import History

    assert instability(History("ReLU", {}, loss=[2.3, 1e4, 2.3, 2.2], grad_norm=[1.0] * 4)) is None  # one bad batch
    assert instability(History("ReLU", {}, loss=[2.3, 30.0, 40.0, 50.0], grad_norm=[1.0] * 4)) is not None
    message = instability(History("Tanh", {}, loss=[2.3] * 3, grad_norm=[1.0, float("inf"), 1.0]))
    assert message is not None and "gradient norm" in message and "iteration 2" in message
