"""The sentences notebooks write from their numbers (helpers/report.py): each says the true thing either way."""

from helpers.readings import _fast_start as fast_start_sentence
from helpers.report import _NormStory, expected_gap_sentence, momentum_sentence


def test_fast_start_sentence_says_whether_the_fastest_starter_won():
    loss = {"Sigmoid": 0.60, "Tanh": 0.30, "ReLU": 0.35}
    lost = fast_start_sentence(loss, {"Sigmoid": 0.97, "Tanh": 0.975, "ReLU": 0.98})
    assert lost.startswith("Tanh had the lowest loss") and "but ReLU ended with the best" in lost
    assert "did not decide the final order" in lost
    won = fast_start_sentence(loss, {"Sigmoid": 0.97, "Tanh": 0.985, "ReLU": 0.98})
    assert won.startswith("Tanh had the lowest loss") and "also ended with the best" in won
    assert "the fastest start won" in won and "did not decide" not in won


def test_momentum_sentence_says_whether_the_gap_widened_and_whom_momentum_helped_least():
    sgd = {"Sigmoid": 0.11, "Tanh": 0.70, "ReLU": 0.61}
    widened = momentum_sentence(sgd, {"Sigmoid": 0.17, "Tanh": 0.90, "ReLU": 0.88})
    assert "Tanh from 70.00 % to 90.00 % and ReLU from 61.00 % to 88.00 %" in widened
    assert "but Sigmoid only from 11.00 % to 17.00 %" in widened
    assert "gap widened from 50.0 to 71.0 points" in widened
    narrowed = momentum_sentence(sgd, {"Sigmoid": 0.60, "Tanh": 0.90, "ReLU": 0.88})
    assert ", and Sigmoid from 11.00 % to 60.00 %" in narrowed and "only" not in narrowed
    assert "gap narrowed from 50.0 to 28.0 points" in narrowed
    # Sigmoid gained more than Tanh but less than ReLU: not "only", and the gap still widened
    mixed = momentum_sentence(sgd, {"Sigmoid": 0.36, "Tanh": 0.89, "ReLU": 0.88})
    assert ", and Sigmoid from" in mixed and "gap widened from 50.0 to 52.0 points" in mixed


def test_expected_gap_sentence_places_each_gap_against_the_practicals_range():
    outside = expected_gap_sentence({"SGD": 0.496, "Adam": 0.024})
    assert outside.startswith("The practical's expected results put ReLU 5–8 points above Sigmoid")
    assert "+49.6 with SGD (above the range by 41.60 points)" in outside
    assert "+2.4 with Adam (below the range by 2.60 points)" in outside
    assert outside.endswith("None is in the range; the closest is Adam.")
    inside = expected_gap_sentence({"SGD": 0.065, "Adam": 0.01})
    assert "+6.5 with SGD (within the range)" in inside and inside.endswith("In the range: SGD.")


def test_norm_story_says_whether_the_norm_rose_and_whether_it_fell_again():
    rose = _NormStory(start=1.0, peak=2.0, peak_iteration=120, last_epoch=1.5, last_epoch_spread=0.1).sentence("Tanh")
    assert "rose from 1.000 to a peak of 2.000 (moving average) at iteration 120, then fell" in rose
    assert "75% of the peak" in rose
    flat = _NormStory(start=1.0, peak=1.02, peak_iteration=60, last_epoch=1.03, last_epoch_spread=0.1).sentence("ReLU")
    assert "started at 1.000 and never rose much above it (peak 1.020), and kept rising" in flat


# ----------------------------------------------------------------------------- notebook 04's readings (helpers/readings.py)

from helpers.history import History  # noqa: E402
from helpers.readings import Comparison, readings, seeds_reading  # noqa: E402
from helpers.report import paired_differences  # noqa: E402


def _run(name: str, first_loss: float, test: float, train: float, layers: tuple[float, float, float]) -> History:
    h = History(name, {}, iterations_per_epoch=10)
    h.loss = [first_loss] * 10 + [0.1] * 10
    h.layer_grad_norms = [list(layers)] * 20
    h.grad_norm = [sum(v * v for v in layers) ** 0.5 * 1.01] * 20  # the biases add a little
    h.test_acc, h.train_acc = [test], [train]
    return h


def _comparison(sigmoid_test: float, sigmoid_train: float):
    return Comparison({"Sigmoid": _run("Sigmoid", 0.50, sigmoid_test, sigmoid_train, (0.1, 0.2, 0.4)),
                    "Tanh": _run("Tanh", 0.30, 0.965, 0.97, (0.6, 0.4, 0.2)),
                    "ReLU": _run("ReLU", 0.35, 0.970, 0.975, (0.5, 0.5, 0.5))})


def test_observation_readings_follow_the_numbers_either_way():
    final = {"Sigmoid": [0.96, 0.961, 0.962], "Tanh": [0.965, 0.966, 0.964], "ReLU": [0.97, 0.971, 0.972]}
    pairs = paired_differences(final)
    resolved = [p for p in pairs if p.resolved]
    worst = readings(_comparison(0.95, 0.955), final, resolved)  # Sigmoid last on test and on training images
    assert "ReLU made the fewest test errors, 3.00 %, and Sigmoid the most, 5.00 %: 1.67 times as many" in worst["accuracy_reading"]
    assert "Sigmoid is last there too" in worst["accuracy_reading"] and "underfitting" in worst["accuracy_reading"]
    assert "Tanh had the lowest loss in the first epoch, but ReLU ended with the best" in worst["loss_reading"]
    assert "Sigmoid's gradient norm was the smallest (0.100) and Tanh's the largest (0.600): 6.0 times" in worst["gradient_reading"]
    assert "Sigmoid 75 % in its output layer" in worst["gradient_reading"]
    assert "did not hold Adam back" not in worst["conclusion_reading"]
    best = readings(_comparison(0.98, 0.96), final, resolved)  # Sigmoid best on test, last on training images
    assert "Sigmoid made the fewest test errors" in best["accuracy_reading"]
    assert "its train − test gap puts it last" in best["accuracy_reading"] and "underfitting" not in best["accuracy_reading"]
    assert "(Sigmoid) made the fewest errors: small raw gradients did not hold Adam back" in best["conclusion_reading"]
    assert "at this depth, with Adam, vanishing gradients did not decide the result" in worst["conclusion_reading"]
    handout = readings(_comparison(0.91, 0.92), final, resolved)["conclusion_reading"]  # ReLU 6 points ahead
    assert "ReLU − Sigmoid is +6.00 points" in handout and "as large a gap as the handout expects" in handout
    assert "did not decide" not in handout
    table = _comparison(0.95, 0.955).layer_table()
    assert "| Sigmoid | 0.100 | 0.200 | 0.400 |" in table and "5 % / 19 % / 75 %" in table


def test_seeds_reading_says_which_pairs_the_seeds_resolve():
    steady = {"Sigmoid": [0.960, 0.961, 0.962, 0.960, 0.961], "ReLU": [0.970, 0.971, 0.972, 0.970, 0.971]}
    resolved = seeds_reading(steady, paired_differences(steady))
    assert "Ranked by the mean over 5 seeds: ReLU > Sigmoid" in resolved
    assert "ReLU beats Sigmoid by 1.00 points on average" in resolved and "Not resolved" not in resolved
    noisy = {"Sigmoid": [0.960, 0.975, 0.962, 0.971, 0.965], "ReLU": [0.970, 0.961, 0.972, 0.960, 0.969]}
    unresolved = seeds_reading(noisy, paired_differences(noisy))
    assert "No pair is resolved by these seeds" in unresolved and "Not resolved: " in unresolved
    assert "the seeds cannot say which of these is better" in unresolved
