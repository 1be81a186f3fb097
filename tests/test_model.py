"""The activation registry and the MLP."""

import pytest
import torch
from torch import nn

from helpers.activations import ACTIVATIONS, activation_name, make_activation
from helpers.model import MLP, build_mlp, count_parameters


def test_registry_has_the_lab_activations():
    assert list(ACTIVATIONS)[:3] == ["Sigmoid", "Tanh", "ReLU"]
    assert {"LeakyReLU", "ELU", "GELU", "SiLU"} <= set(ACTIVATIONS)
    assert isinstance(make_activation("relu"), nn.ReLU)  # case-insensitive
    assert isinstance(make_activation(" Tanh "), nn.Tanh)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown activation 'Swish'\. Choose one of: Sigmoid, Tanh, ReLU, "):
        activation_name("Swish")
    with pytest.raises(ValueError, match="Unknown activation"):
        MLP("softmax")


def test_practical_network_shape_and_parameter_count():
    model = MLP("ReLU")
    assert [(l.in_features, l.out_features) for l in model.linears()] == [(784, 256), (256, 128), (128, 10)]
    assert count_parameters(model) == 235_146
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_depth_and_width_are_parameters():
    model = MLP("Tanh", hidden=(64,) * 8)
    assert len(model.linears()) == 9
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 8
    with pytest.raises(ValueError, match="hidden"):
        MLP("Tanh", hidden=())


def test_same_seed_same_starting_weights_for_every_activation():
    models = [build_mlp(name, seed=3) for name in ACTIVATIONS]
    for other in models[1:]:
        for p, q in zip(models[0].parameters(), other.parameters()):
            assert torch.equal(p, q)
    assert not torch.equal(build_mlp("ReLU", seed=4).linears()[0].weight, models[0].linears()[0].weight)


def test_build_mlp_leaves_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    build_mlp("ReLU", seed=9)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("init, gain2", [("xavier", 1.0), ("he", 2.0)])
def test_initialisations_have_their_variance(init, gain2):
    model = build_mlp("ReLU", seed=0, hidden=(512, 512), init=init)
    w = model.linears()[1].weight  # 512 -> 512
    expected = gain2 / 512 if init == "he" else 2 / (512 + 512)
    assert abs(w.var().item() / expected - 1) < 0.05
    assert torch.all(model.linears()[1].bias == 0)
    with pytest.raises(ValueError, match="Unknown init"):
        MLP("ReLU", init="orthogonal")
