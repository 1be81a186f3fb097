"""The engine's thread choice: faster on a busy CPU, never different numbers."""

import pytest
import torch

import helpers
from helpers import engine
from helpers.engine import WINDOW, ThreadChooser, same_numbers_on_all_counts, thread_counts

from conftest import noise_data

NAMES = ["Sigmoid", "Tanh", "ReLU"]


@pytest.fixture
def two_threads(monkeypatch):
    """PyTorch on 2 threads (CI's machine has 2 cores), no fixed count from the environment, a fresh memory."""
    for name in (engine.THREADS_VARIABLE, "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ThreadChooser, "memory", {})
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


class FakeCPU:
    """A clock for ThreadChooser: each step takes the seconds ``cost(threads)`` says, for the count in use now."""

    def __init__(self, cost):
        self.cost, self.t = cost, 0.0

    def __call__(self) -> float:
        return self.t

    def step(self) -> None:
        self.t += self.cost(torch.get_num_threads())


QUIET = {2: 0.0016, 1: 0.0028}.get  # seconds per step, as measured on the 2-core CI machine
BUSY = {2: 0.2, 1: 0.004}.get  # two other programs running: the threads wait for each other at every operation


def run(chooser: ThreadChooser, cpu: FakeCPU, steps: int) -> list[int]:
    used = []
    for _ in range(steps):
        used.append(torch.get_num_threads())
        cpu.step()
        chooser.after_step()
    return used


def test_a_quiet_machine_trains_on_all_threads_after_one_window(two_threads):
    cpu = FakeCPU(QUIET)
    chooser = ThreadChooser([2, 1], clock=cpu)
    used = run(chooser, cpu, 2000)
    assert used[:WINDOW] == [1] * WINDOW  # a first run starts on one thread: safe on a busy machine
    assert used.count(1) <= 2 * WINDOW and used[-1000:] == [2] * 1000
    assert chooser.close() == {"2": used.count(2), "1": used.count(1)} and torch.get_num_threads() == 2
    again = ThreadChooser([2, 1], clock=cpu)  # the next run in this process starts where the last one ended
    assert run(again, cpu, 500) == [2] * 500


def test_a_busy_machine_stays_on_one_thread_and_the_tries_cost_little(two_threads):
    cpu = FakeCPU(BUSY)
    chooser = ThreadChooser([2, 1], clock=cpu)
    used = run(chooser, cpu, 5000)
    assert used.count(2) <= 6  # tries of two threads, each stopped after one slow step
    assert cpu.t < 1.15 * 5000 * BUSY(1)


def test_load_that_comes_and_goes_is_followed(two_threads):
    cpu = FakeCPU(QUIET)
    chooser = ThreadChooser([2, 1], clock=cpu)
    run(chooser, cpu, 500)
    cpu.cost = BUSY  # a video call starts
    start = cpu.t
    used = run(chooser, cpu, 2000)
    assert used[0] == 2 and used[3:50] == [1] * 47  # the first slow step is noticed
    assert used.count(2) <= 6  # then tries of two threads now and then, each stopped after one slow step
    assert cpu.t - start < 2000 * BUSY(1) + 6 * BUSY(2)
    cpu.cost = QUIET  # and ends
    used = run(chooser, cpu, 4000)
    assert used[-500:] == [2] * 500


def test_numbers_are_the_same_whatever_the_thread_choice(two_threads, monkeypatch):
    data = noise_data(n_train=3200)
    adaptive = helpers.train_together(NAMES, epochs=2, data=data, progress=False)
    assert adaptive["ReLU"].threads and sum(adaptive["ReLU"].threads.values()) == 100
    for fixed in ("1", "2"):
        monkeypatch.setenv(engine.THREADS_VARIABLE, fixed)
        runs = helpers.train_together(NAMES, epochs=2, data=data, progress=False)
        assert runs["ReLU"].threads == {fixed: 100} and torch.get_num_threads() == 2
        for name in NAMES:
            assert runs[name].loss == adaptive[name].loss and runs[name].grad_norm == adaptive[name].grad_norm
            assert runs[name].test_acc == adaptive[name].test_acc
    assert same_numbers_on_all_counts((2, 1), (256, 128), 3, (64, 32), 5000)  # the practical's shapes, here


def test_no_choosing_where_thread_counts_would_change_the_numbers(two_threads, monkeypatch):
    monkeypatch.setattr(engine, "same_numbers_on_all_counts", lambda *args: False)
    runs = helpers.train_together(NAMES, epochs=1, data=noise_data(), progress=False)
    assert runs["ReLU"].threads == {"2": 10}


def test_thread_counts_from_the_environment(two_threads, monkeypatch):
    cpu = torch.device("cpu")
    assert thread_counts(cpu) == [2, 1] and thread_counts(torch.device("cuda")) == [2]
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # chosen by the user: kept
    assert thread_counts(cpu) == [2]
    monkeypatch.setenv(engine.THREADS_VARIABLE, "1")
    assert thread_counts(cpu) == [1]
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(engine.THREADS_VARIABLE, bad)
        with pytest.raises(ValueError, match="LAB_THREADS must be a whole number"):
            thread_counts(cpu)


@pytest.mark.parametrize("fixed", ["1", ""], ids=["LAB_THREADS=1", "chosen"])
def test_the_thread_count_is_restored_after_a_failed_run(two_threads, monkeypatch, fixed):
    monkeypatch.setenv(engine.THREADS_VARIABLE, fixed)
    data = noise_data(n_train=3200)
    data.train_x[3000] = float("nan")  # a NaN loss late in the epoch, after the engine chose its threads
    with pytest.raises(helpers.TrainingDiverged):
        helpers.train_together(["ReLU"], epochs=1, data=data, progress=False, seed=1)
    assert torch.get_num_threads() == 2


def test_runs_off_the_cpu_record_no_thread_counts(two_threads):
    chooser = ThreadChooser([2], record=False)
    run(chooser, FakeCPU(QUIET), 10)
    assert chooser.close() == {} and torch.get_num_threads() == 2
