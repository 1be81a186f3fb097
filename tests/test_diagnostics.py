"""The engine's diagnostics (``TrainConfig(diagnostics_every=k)``, notebook 05 §5) against a plain PyTorch loop."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from helpers import TrainConfig, train_together
from helpers._machinery.diagnostics import BINS, RANGES
from helpers._machinery.training import epoch_order
from helpers.data import MNISTTensors
from helpers.flow import capture_activations
from helpers.model import build_mlp

NAMES = ["Sigmoid", "Tanh", "ReLU"]
HIDDEN = (48, 32, 32)


def plain_diagnostics(config: TrainConfig, data) -> dict[str, dict]:
    """The practical's loop (one network per activation, torch.optim), measured at the same steps by hand."""
    out = {}
    for name in NAMES:
        model = build_mlp(name, config.seed, hidden=config.hidden)
        optimizer = (torch.optim.Adam(model.parameters(), lr=config.lr) if config.optimizer == "adam" else
                     torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum))
        generator, iteration = torch.Generator().manual_seed(config.seed), 0
        found = {"iterations": [], "update_ratio": [], "histogram": [], "flat_share": [], "flat_units": []}
        for _ in range(config.epochs):
            order = epoch_order(len(data.train_x), generator)
            for start in range(0, len(order), config.batch_size):
                batch = order[start:start + config.batch_size]
                x, y = data.train_x[batch], data.train_y[batch]
                watch = iteration % config.diagnostics_every == 0
                if watch:
                    before = [layer.weight.detach().clone() for layer in model.linears()]
                    outputs = capture_activations(model, x)
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                if watch:
                    found["iterations"].append(iteration)
                    found["update_ratio"].append([((layer.weight.detach() - b).norm() / b.norm()).item()
                                                  for layer, b in zip(model.linears(), before)])
                    low, high = RANGES[name]
                    hists, flats, units = [], [], []
                    for a in outputs:
                        a = a.numpy().astype(np.float64)
                        if name == "ReLU":
                            flat, shown = a == 0, a[a > 0]
                        else:  # saturated: f'(z) < 1 % of its largest value, from a = f(z)
                            slope = a * (1 - a) / 0.25 if name == "Sigmoid" else 1 - a * a
                            flat, shown = slope < 0.01, a.ravel()
                        counts, _ = np.histogram(np.clip(shown, low, high), bins=BINS, range=(low, high))
                        hists.append(counts / a.size)
                        flats.append(flat.mean())
                        units.append(flat.all(0).mean())
                    found["histogram"].append(hists)
                    found["flat_share"].append(flats)
                    found["flat_units"].append(units)
                iteration += 1
        out[name] = found
    return out


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_update_ratios_and_histograms_are_what_plain_pytorch_measures(optimizer):
    g = torch.Generator().manual_seed(5)
    # images in the lab's range [-1, 1], with a structure the labels follow, so training moves the activations
    x = torch.rand(640, 784, generator=g) * 2 - 1
    y = (x[:, :10].argmax(1) + torch.randint(0, 2, (640,), generator=g)) % 10
    data = MNISTTensors(x, y, x[:200], y[:200])
    config = TrainConfig(epochs=2, hidden=HIDDEN, seed=3, device="cpu", diagnostics_every=3, optimizer=optimizer,
                         lr=1e-3 if optimizer == "adam" else 0.5, momentum=0.9)
    runs = train_together(NAMES, config, data=data, progress=False)
    plain = plain_diagnostics(config, data)
    for name in NAMES:
        ours, theirs = runs[name].diagnostics, plain[name]
        assert ours["iterations"] == theirs["iterations"] == list(range(0, 20, 3))
        assert ours["every"] == 3 and ours["layers"] == len(HIDDEN)
        np.testing.assert_allclose(ours["update_ratio"], theirs["update_ratio"], rtol=2e-3)
        values = config.batch_size * np.array(HIDDEN)  # values per layer: a count of 1 is 1 / values
        for mine, right in zip(ours["histogram"], theirs["histogram"]):
            for layer, (p, q) in enumerate(zip(mine, right)):
                # a value at a bin's edge may fall either side in float32: at most 2 values apart per bin
                assert np.abs(np.array(p) - q).max() <= 2.01 / values[layer], (name, layer)
                assert abs(sum(p) - sum(q)) < 1e-4
        np.testing.assert_allclose(ours["flat_share"], theirs["flat_share"], atol=2e-4)
        np.testing.assert_allclose(ours["flat_units"], theirs["flat_units"], atol=1e-6)
        if name == "ReLU":  # the histogram holds the values above 0, the flat share the zeros: together all
            assert all(abs(sum(layer) + f - 1) < 1e-4
                       for hs, fs in zip(ours["histogram"], ours["flat_share"]) for layer, f in zip(hs, fs))
    # the ratios move: the test would notice ratios taken at the wrong step
    assert len({round(r[0], 6) for r in runs["ReLU"].diagnostics["update_ratio"]}) > 3
    assert all(0 < r < 1 for run in runs.values() for row in run.diagnostics["update_ratio"] for r in row)


def test_off_by_default_and_recording_changes_no_number(tiny_data):
    config = TrainConfig(epochs=1, hidden=(32, 16), seed=1, device="cpu")
    off = train_together(NAMES, config, data=tiny_data, progress=False)
    on = train_together(NAMES, config, data=tiny_data, progress=False, diagnostics_every=4)
    for name in NAMES:
        assert off[name].diagnostics == {}
        assert on[name].loss == off[name].loss and on[name].layer_grad_norms == off[name].layer_grad_norms
        assert on[name].test_acc == off[name].test_acc
        d = on[name].diagnostics
        assert d["iterations"] == [0, 4, 8] and len(d["update_ratio"]) == 3 and len(d["update_ratio"][0]) == 3
        assert len(d["histogram"][0]) == 2 and len(d["histogram"][0][0]) == BINS
        assert math.isclose(sum(d["histogram"][0][0]) + (d["flat_share"][0][0] if name == "ReLU" else 0), 1,
                            abs_tol=1e-4)
        json.dumps(on[name].to_dict())  # results.json and the cache keep working


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_diagnostics_every_is_refused(bad):
    with pytest.raises(ValueError, match="diagnostics_every"):
        TrainConfig(diagnostics_every=bad)


def test_the_readings_notebook_05_states():
    from helpers.flow import flat_share, update_ratio, value_share
    from helpers.history import History

    h = History("ReLU", {}, diagnostics={
        "update_ratio": [[1e-2, 1e-3], [1e-3, 0.0], [1e-4, 1e-4]], "bins": [0.0, 8.0, 4],
        "flat_share": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6]], "flat_units": [[0.0], [0.5]] * 3,
        "histogram": [[[0.1, 0.2, 0.3, 0.4]]]})
    assert math.isclose(update_ratio(h, 0), -3) and math.isclose(update_ratio(h, 0, "second half"), -3.5)
    assert update_ratio(h, 1) == -4  # a step that moved nothing counts as -inf, not as an error
    assert flat_share(h, 0, "start") == 0.1 and math.isclose(flat_share(h, 0), 0.4)
    assert math.isclose(flat_share(h, 0, units=True), 0.3)
    assert math.isclose(value_share(h, 0, 2, 6), 0.5) and math.isclose(value_share(h, 0, 0, 8), 1.0)
