"""The practical's plain loop (helpers/practical.py) and the fast engine compute the same numbers."""

import pytest
import torch

import helpers
from helpers.practical import correct_predictions, train_plain, training_step
from helpers.train import one_step_each
from helpers.history import History

ITERATIONS = 300
ROUNDING = 1e-5  # relative; float32 rounds at 6e-8, and notebook 03 states the same tolerance for one step
SMOOTH_DRIFT = 1e-4  # Sigmoid, Tanh: 300 steps carry rounding differences to at most 3e-6 (2 processors, 1 and 2 threads)
MEANS_APART = 0.01  # the losses' means over iterations 201-300 (README, "How the engine works")


def loss_means_apart(plain: History, fast: History, last: int = 100) -> float:
    """|mean a - mean b| / mean b of the two runs' losses over the last ``last`` iterations both have."""
    n = min(len(plain.loss), len(fast.loss))
    a, b = (sum(run.loss[n - last:n]) / last for run in (plain, fast))
    return abs(a - b) / b


def _max_relative_difference(a: list[float], b: list[float]) -> float:
    """Largest |a_i - b_i| / |b_i| over the positions both lists have."""
    n = min(len(a), len(b))
    x, y = torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64)
    return ((x - y).abs() / y.abs()).max().item()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("activation", helpers.PRACTICAL_ACTIVATIONS)
def test_one_step_of_each_agrees_to_float32_rounding(activation, threads):
    """The tie that holds on every processor: the same weights, the same batch, one step."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gaps = one_step_each(activation, seed=3, device="cpu")
    finally:
        torch.set_num_threads(before)
    assert set(gaps) == {"loss", "gradient norm", "gradients", "weights after the step"}
    assert max(gaps.values()) < ROUNDING, gaps


@pytest.mark.slow
@pytest.mark.parametrize("activation", helpers.PRACTICAL_ACTIVATIONS)
def test_plain_loop_and_engine_learn_alike_for_300_iterations(activation):
    plain = train_plain(activation, epochs=1, max_iterations=ITERATIONS, device="cpu")
    fast = helpers.train(activation, epochs=1, progress=False, device="cpu")  # the practical's settings
    assert len(plain.loss) == len(plain.grad_norm) == ITERATIONS and len(fast.loss) == 938
    assert plain.loss[0] == pytest.approx(fast.loss[0], rel=ROUNDING)  # same weights, same first batch
    # ReLU's runs may part after a few dozen steps on some processors (a unit near 0 flips, Adam carries it on);
    # what learning does, averaged, agrees everywhere.
    assert loss_means_apart(plain, fast) < MEANS_APART
    if activation != "ReLU":
        assert _max_relative_difference(plain.loss, fast.loss) < SMOOTH_DRIFT
        assert _max_relative_difference(plain.grad_norm, fast.grad_norm) < SMOOTH_DRIFT
    assert plain.loss[-1] < plain.loss[0] - 1  # it trained (and so did the comparison)


def _run(losses: list[float]) -> History:
    h = History("ReLU", {})
    h.loss = losses
    return h


def test_loss_means_apart():
    steady = [2.3 - 0.005 * i for i in range(300)]
    parted = [v * (1 + (0.03 if i >= 40 and i % 2 else 0)) for i, v in enumerate(steady)]
    assert loss_means_apart(_run(parted), _run(steady)) == pytest.approx(0.015, rel=0.01)  # half of them 3 % up


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
