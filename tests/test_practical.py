"""The practical's plain loop (helpers/practical.py) and the fast engine compute the same numbers."""

import pytest
import torch

import helpers
from helpers.practical import correct_predictions, train_plain, training_step
from helpers.report import max_relative_difference

ITERATIONS = 300
TOLERANCE = 1e-4  # relative; notebook 03 states the same tolerance


@pytest.mark.slow
@pytest.mark.parametrize("activation", helpers.PRACTICAL_ACTIVATIONS)
def test_plain_loop_and_engine_agree_for_300_iterations(activation):
    plain = train_plain(activation, epochs=1, max_iterations=ITERATIONS, device="cpu")
    fast = helpers.train(activation, epochs=1, progress=False, device="cpu")  # the practical's settings
    assert len(plain.loss) == len(plain.grad_norm) == ITERATIONS and len(fast.loss) == 938
    assert plain.loss[0] == pytest.approx(fast.loss[0], rel=1e-6)  # same weights, same first batch
    assert max_relative_difference(plain.loss, fast.loss) < TOLERANCE
    assert max_relative_difference(plain.grad_norm, fast.grad_norm) < TOLERANCE
    assert plain.loss[-1] < plain.loss[0] - 1  # it trained (and so did the comparison)


def test_one_step_and_counting_on_a_small_network():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = torch.randn(8, 1, 28, 28), torch.arange(8)
    before = [p.detach().clone() for p in model.parameters()]
    loss, norm, outputs = training_step(model, images, labels, optimizer, torch.nn.CrossEntropyLoss())
    assert isinstance(loss, float) and norm == pytest.approx(helpers.global_grad_norm(model))
    assert all(not torch.equal(p, q) for p, q in zip(model.parameters(), before))  # the step moved every weight
    assert correct_predictions(outputs, labels) == int((outputs.argmax(1) == labels).sum())
    assert correct_predictions(torch.eye(10)[:4], torch.tensor([0, 1, 3, 3])) == 3
