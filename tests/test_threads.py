"""The engine's thread choice: faster on a busy CPU, never different numbers."""

import os
import subprocess
import sys

import pytest
import torch

import helpers
from helpers._machinery import threads as engine
from helpers._machinery.engine import StackedMLP
from helpers._machinery.threads import WINDOW, ThreadChooser, same_numbers_on_all_counts, thread_counts

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


PRACTICAL_SHAPES = ((2, 1), (256, 128), 3, (64, 32), 5000)  # counts, hidden, models, batch sizes, test rows
# float32 rounds at 6e-8 relative; a product over 784 inputs summed in another order (another thread split) can
# differ by a few units in the last place of each term's partial sums: 1e-5 of a tensor's norm is far above that
# and far below any real difference (a wrong formula, a missing term).
ROUNDING = 1e-5


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def test_reruns_on_one_thread_schedule_give_identical_numbers(two_threads, monkeypatch):
    """Holds on every processor: the same seed and the same thread count give the same bits."""
    data = noise_data(n_train=3200)
    for fixed in ("1", "2"):
        monkeypatch.setenv(engine.THREADS_VARIABLE, fixed)
        first, again = (helpers.train_together(NAMES, epochs=2, data=data, progress=False) for _ in range(2))
        for name in NAMES:
            assert first[name].loss == again[name].loss and first[name].grad_norm == again[name].grad_norm
            assert first[name].test_acc == again[name].test_acc and first[name].threads == {fixed: 100}


def test_one_and_two_threads_agree_to_float32_rounding_at_the_practicals_shapes(two_threads):
    """Holds on every processor: a training step on 1 and on 2 threads differs by rounding only."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 784, generator=g), torch.randint(0, 10, (64,), generator=g)
    results = []
    for n in (1, 2):
        torch.set_num_threads(n)
        model = StackedMLP([helpers.build_mlp(name, 0) for name in NAMES])
        logits, losses = model.forward_backward(x, y)
        results.append([logits, losses, *model.grad_norms(), *(p.grad for p in model.params)])
    for one, two in zip(*results):
        assert relative_difference(one, two) < ROUNDING


def test_adaptive_and_fixed_runs_agree(two_threads, monkeypatch):
    """Bit for bit where this processor rounds alike on every count (the chooser is then on); else the adaptive run
    stays on PyTorch's count and equals the fixed run on it, and the other count agrees at the first step."""
    data = noise_data(n_train=3200)
    adaptive = helpers.train_together(NAMES, epochs=2, data=data, progress=False)
    assert sum(adaptive["ReLU"].threads.values()) == 100
    alike = same_numbers_on_all_counts((2, 1), (256, 128), 3, (64,), 200)  # as train_together checks it
    assert (adaptive["ReLU"].threads_note == "") == alike
    for fixed in ("1", "2"):
        monkeypatch.setenv(engine.THREADS_VARIABLE, fixed)
        runs = helpers.train_together(NAMES, epochs=2, data=data, progress=False)
        assert runs["ReLU"].threads == {fixed: 100} and torch.get_num_threads() == 2
        for name in NAMES:
            if alike or fixed == "2":
                assert runs[name].loss == adaptive[name].loss and runs[name].grad_norm == adaptive[name].grad_norm
                assert runs[name].test_acc == adaptive[name].test_acc
            else:  # the same weights and batch: the first iteration differs by rounding only
                assert abs(runs[name].loss[0] - adaptive[name].loss[0]) < ROUNDING * adaptive[name].loss[0]


def test_the_practicals_shapes_give_the_same_numbers_on_every_count_where_mkl_is_strict(two_threads):
    if torch.backends.mkl.is_available():  # helpers asked MKL for its strict mode before MKL's first call
        assert os.environ[engine.MKL_MODE_VARIABLE] == engine.STRICT_MKL_MODE
        mode = engine.mkl_mode()
        assert mode is None or mode & engine.STRICT_BIT, hex(mode)
    if not same_numbers_on_all_counts(*PRACTICAL_SHAPES):
        pytest.skip(f"thread counts round differently here ({engine.processor_name()}): {engine.why_counts_differ()}; "
                    f"the chooser stays off and says so (test_where_counts_round_differently_...)")


def test_where_counts_round_differently_the_run_stays_on_one_count_and_says_so(two_threads, monkeypatch, capsys):
    monkeypatch.setattr(engine, "same_numbers_on_all_counts", lambda *args: False)
    monkeypatch.setattr(engine, "_SAID", set())
    runs = helpers.train_together(NAMES, epochs=1, data=noise_data(), progress=False)
    again = helpers.train_together(NAMES, epochs=1, data=noise_data(), progress=False)
    assert runs["ReLU"].threads == again["ReLU"].threads == {"2": 10}
    note = runs["ReLU"].threads_note
    assert "stays on 2 CPU threads" in note and "LAB_THREADS=1" in note and runs["ReLU"].to_dict()["threads_note"] == note
    assert capsys.readouterr().err.count(note) == 1  # said once per process, not once per run


def test_why_counts_differ_names_the_cause(monkeypatch):
    monkeypatch.setenv(engine.MKL_MODE_VARIABLE, engine.STRICT_MKL_MODE)
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: True)
    monkeypatch.setattr(engine, "mkl_mode", lambda: 0x1)  # MKL started before helpers: not strict
    assert "restart the kernel and import helpers" in engine.why_counts_differ()
    monkeypatch.setattr(engine, "mkl_mode", lambda: engine.STRICT_BIT | 0x2)
    assert "even in Intel MKL's strict reproducibility mode" in engine.why_counts_differ()
    monkeypatch.setenv(engine.MKL_MODE_VARIABLE, "COMPATIBLE")
    assert "MKL_CBWR is set to 'COMPATIBLE'" in engine.why_counts_differ()
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: False)
    assert "matrix products round differently" in engine.why_counts_differ()


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="this PyTorch has no Intel MKL")
@pytest.mark.parametrize("before", ["import torch", "import torch; torch.mm(torch.ones(64, 64), torch.ones(64, 64))"],
                         ids=["torch imported first", "a product ran first"])
def test_strict_mode_takes_effect_unless_mkl_already_ran(before):
    """In a fresh process (a kernel): importing torch first is fine; running a product first is too late."""
    code = (f"{before}\nimport helpers\nfrom helpers._machinery import threads as engine\nm = engine.mkl_mode()\n"
            f"print(m is None, bool(m and m & engine.STRICT_BIT))")
    env = {k: v for k, v in os.environ.items() if k != engine.MKL_MODE_VARIABLE}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    if out[0] == "True":
        pytest.skip("MKL's mode cannot be read on this platform")
    assert out[1] == ("False" if "mm" in before else "True")


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
