"""helpers/tuning.py (notebook 05 §4): the validation split, choosing a rate by validation accuracy, the cache key."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import TrainConfig
from helpers.data import MNISTTensors
from helpers.tuning import _best_rate, _split_name, tuned_rates_table, tuned_sweep, validation_split


def numbered(n_train: int = 600, n_test: int = 200, seed: int = 0) -> MNISTTensors:
    """Learnable toy data whose every image carries its index in pixel 0: training images 0.., test images -1, -2, .."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, 784, generator=g)

    def images(n: int, first: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 10, (n,), generator=g)
        x = centres[y] + 0.5 * torch.randn(n, 784, generator=g)
        x[:, 0] = torch.arange(first, first + step * n, step, dtype=torch.float32)
        return x, y

    train_x, train_y = images(n_train, 0, 1)
    test_x, test_y = images(n_test, -1, -1)
    return MNISTTensors(train_x, train_y, test_x, test_y)


def test_the_split_holds_out_part_of_the_training_subset_and_never_the_test_set():
    data = numbered()
    split = validation_split(data, 100, seed=3, train_size=500)
    train, val = split.train_x[:, 0].long().tolist(), split.test_x[:, 0].long().tolist()
    assert len(train) == 400 and len(val) == 100
    assert set(train).isdisjoint(val)  # nothing trained on is validated on
    assert set(train) | set(val) == set(range(500))  # only the first 500: image 500 and later are not in it
    assert min(train + val) >= 0  # no test image (they carry negative numbers)
    assert torch.equal(split.train_y, data.train_y[split.train_x[:, 0].long()])  # labels stay with their images
    assert torch.equal(split.test_y, data.train_y[split.test_x[:, 0].long()])


def test_the_split_depends_on_its_seed_and_only_on_it():
    data = numbered()
    a, b, c = (validation_split(data, 100, seed=s, train_size=500) for s in (0, 0, 1))
    assert torch.equal(a.test_x, b.test_x)
    assert not torch.equal(a.test_x, c.test_x)


@pytest.mark.parametrize("n_val", [0, 500, 501])
def test_a_split_that_leaves_nothing_is_refused(n_val):
    with pytest.raises(ValueError, match="n_val"):
        validation_split(numbered(), n_val, train_size=500)


def test_the_best_rate_is_the_argmax_of_validation_accuracy():
    assert _best_rate([0.01, 0.1, 1.0], [0.5, 0.9, 0.7]) == 0.1
    assert _best_rate([0.01, 0.1, 1.0], [0.5, math.nan, 0.7]) == 1.0  # a diverged rate is never chosen
    assert _best_rate([0.01, 0.1, 1.0], [0.8, 0.8, 0.7]) == 0.01  # a tie: the smaller rate
    with pytest.raises(ValueError, match="diverged"):
        _best_rate([0.1, 1.0], [math.nan, math.nan])


def test_the_cache_key_names_the_split():
    base = _split_name(12000, 2000, 0)
    assert len({base, _split_name(12000, 2000, 1), _split_name(12000, 1000, 0), _split_name(6000, 2000, 0)}) == 4


CONFIG = TrainConfig(hidden=(16,), epochs=1, batch_size=32, optimizer="sgd", momentum=0.0, train_size=500,
                     device="cpu", seed=0)
RATES = (0.001, 0.03, 1.0)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_tuned_sweep_chooses_on_validation_and_tests_only_the_chosen_network(cache):
    data = numbered()
    tuned = tuned_sweep("test", ["Tanh", "ReLU"], CONFIG, RATES, data=data, n_val=100, split_seed=0)
    for t in tuned.values():
        assert t.lr == _best_rate(t.rates, t.val_acc) and t.best_val_acc == max(a for a in t.val_acc if a == a)
        from helpers import evaluate
        assert math.isclose(t.test_acc, evaluate(t.history.model, data.test_x, data.test_y)[0].item())
        assert t.history.test_acc[-1] == t.test_acc
    # The test labels shuffled: the same rates and validation accuracies, only the test accuracy changes.
    shuffled = MNISTTensors(data.train_x, data.train_y, data.test_x, data.test_y[torch.randperm(len(data.test_y))])
    again = tuned_sweep("test", ["Tanh", "ReLU"], CONFIG, RATES, data=shuffled, n_val=100, split_seed=0, retrain=True)
    for n, t in tuned.items():
        assert (again[n].lr, again[n].val_acc) == (t.lr, t.val_acc)
    table = tuned_rates_table({"SGD": tuned})
    assert f"**{tuned['Tanh'].lr:g}: " in table and "test accuracy" in table


def test_another_split_is_trained_again_not_read_from_the_cache(cache):
    data = numbered()
    tuned_sweep("test", ["Tanh"], CONFIG, RATES, data=data, n_val=100, split_seed=0)
    first = set(cache.glob("*.pkl"))
    assert len(first) == len(RATES)
    tuned_sweep("test", ["Tanh"], CONFIG, RATES, data=data, n_val=100, split_seed=0)
    assert set(cache.glob("*.pkl")) == first  # the same split: read back
    tuned_sweep("test", ["Tanh"], CONFIG, RATES, data=data, n_val=100, split_seed=1)
    tuned_sweep("test", ["Tanh"], CONFIG, RATES, data=data, n_val=50, split_seed=0)
    assert len(set(cache.glob("*.pkl"))) == 3 * len(RATES)
