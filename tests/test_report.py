"""The sentences notebooks write from their numbers (helpers/report.py): each says the true thing either way."""

from helpers.report import _NormStory, expected_gap_sentence, fast_start_sentence, momentum_sentence


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
