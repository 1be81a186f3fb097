"""Threads on a shared CPU: the engine's choice of thread count, and the same numbers on every count.

Machinery: nothing here changes what a notebook computes, only how fast.  ``ThreadChooser`` moves training between
thread counts as the load changes, only where all give the same bits; MKL's strict mode is asked for so that they do.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..model import build_mlp
from .engine import StackedMLP

# Intel MKL (PyTorch's CPU matrix products on x86) rounds differently on different thread counts on some processors
# (a Xeon with AVX-512) unless in its strict reproducibility mode, read at its first call (after `import torch`):
# set here, it works unless a product already ran.  A user's value is kept; without MKL the start-up check decides.
MKL_MODE_VARIABLE, STRICT_MKL_MODE = "MKL_CBWR", "AUTO,STRICT"
os.environ.setdefault(MKL_MODE_VARIABLE, STRICT_MKL_MODE)

THREADS_VARIABLE = "LAB_THREADS"  # e.g. 1: train with exactly that many CPU threads, no measuring
WINDOW = 25  # steps timed together (about 40 ms on a quiet 2-core CPU)
FIRST_TRY, LAST_TRY = 2 * WINDOW, 128 * WINDOW  # steps to the next try of another count; x4 after each lost try
SLOWER = 1.3  # a window this much slower than the best seen on its count means the cores are busy


class ThreadChooser:
    """Keeps CPU training on the fastest of PyTorch's thread counts (its default, halved down to 1) as the load changes.

    When other programs hold the cores, a thread that lost its core keeps the others waiting at every operation (a
    step 100 times longer) while one thread just runs.  So a run starts on one thread unless an earlier one chose
    otherwise, tries fewer threads after a window ``SLOWER`` than its count's best, and more now and then.
    """

    memory: dict[tuple, dict] = {}  # per kind of run, this process: best window seconds per count, last choice

    def __init__(self, counts: Sequence[int], kind: tuple = (), clock: Callable[[], float] = time.perf_counter,
                 record: bool = True, note: str = "") -> None:
        self.counts = list(counts)  # from most threads to fewest; one entry: nothing to choose
        self.record = record  # False off the CPU: the thread count does not matter there
        self.before = torch.get_num_threads()
        self.known = self.memory.setdefault((tuple(counts), *kind), {"best": {}, "choice": self.counts[-1]})
        self.best: dict[int, float] = self.known["best"]
        self.current = self.known["choice"]
        self.trying: int | None = None  # the count the window now running tries
        self.last = 0.0  # seconds of the last window on the current count
        self.steps_at = {n: 0 for n in self.counts}  # iterations run at each count, for the record
        self.interval, self.next_try = FIRST_TRY, WINDOW
        self.seconds, self.window_steps, self.steps = 0.0, 0, 0
        torch.set_num_threads(self.current)
        self.now = clock
        self.clock = clock()
        self.note = note  # why the count is fixed where the chooser would choose (``thread_chooser`` says it)

    def restart_clock(self) -> None:
        """Leave out of the timing what is not a training step (recording, a live plot, evaluation)."""
        self.clock = self.now()

    def after_step(self) -> None:
        """Call after every training step."""
        now = self.now()
        self.seconds, self.clock = self.seconds + now - self.clock, now
        count = self.trying or self.current
        self.steps += 1
        self.steps_at[count] += 1
        self.window_steps += 1
        if len(self.counts) == 1 or self.steps == 1:  # the first step also sets up memory: not timed
            self.seconds, self.window_steps = 0.0, 0
        elif self.trying is not None and self.seconds > self.last:  # slower than a whole window before it: lost
            self._record(count)
            self._move_to(self.current, won=False)
        elif self.window_steps == WINDOW or (count in self.best and self.seconds > SLOWER * self.best[count]):
            window = self._record(count)  # a window, or part of one that is already clearly slow
            if self.trying is not None:
                self._move_to(self.trying, won=window < 0.9 * self.last)
            else:
                self.last = window
                self._maybe_try(busy=window > SLOWER * self.best[count])

    def _record(self, count: int) -> float:
        """End the window: its seconds (scaled to a whole window), also kept as the count's best if it is."""
        window = self.seconds * WINDOW / self.window_steps
        self.best[count] = min(window, self.best.get(count, window))
        self.seconds, self.window_steps = 0.0, 0
        return window

    def _maybe_try(self, busy: bool) -> None:
        i = self.counts.index(self.current)
        if self.steps < self.next_try or (i == 0 and not busy):
            return
        trying = self.counts[i + 1] if busy and i + 1 < len(self.counts) else self.counts[max(i - 1, 0)]
        if trying != self.current:
            self.trying = trying
            torch.set_num_threads(trying)

    def _move_to(self, count: int, won: bool) -> None:
        self.current, self.trying = (count if won else self.current), None
        if won:
            self.known["choice"] = count
        self.interval = FIRST_TRY if won else min(4 * self.interval, LAST_TRY)
        self.next_try = self.steps + self.interval
        torch.set_num_threads(self.current)

    def close(self) -> dict[str, int]:
        """Put PyTorch's thread count back as it was; return the iterations run at each count (CPU runs)."""
        torch.set_num_threads(self.before)
        return {str(n): k for n, k in self.steps_at.items() if k} if self.record else {}


def thread_chooser(device: torch.device, model: StackedMLP, batches: tuple[int, ...], test_rows: int,
                   batch_size: int) -> ThreadChooser:
    """The ``ThreadChooser`` for one run: moving between counts only where they give the same numbers."""
    counts, note = thread_counts(device), ""
    if len(counts) > 1 and not same_numbers_on_all_counts(tuple(counts), model.hidden, len(model.activations),
                                                          batches, test_rows):
        counts = counts[:1]  # other thread counts would round differently: stay on one, for reproducible runs
        note = (f"The engine stays on {counts[0]} CPU threads for this run: {why_counts_differ()}. Reruns still give "
                f"the same numbers; it only cannot move to fewer threads when other programs hold the cores "
                f"(on a busy machine, set {THREADS_VARIABLE}=1).")
        say_once(note)
    return ThreadChooser(counts, kind=(tuple(model.activations), model.hidden, batch_size),
                         record=device.type == "cpu", note=note)


_SAID: set[str] = set()


def say_once(note: str) -> None:
    """Print a one-line note to stderr, once per process (a notebook shows it under the cell)."""
    if note not in _SAID:
        _SAID.add(note)
        print(f"Note: {note}", file=sys.stderr)


def mkl_mode() -> int | None:
    """MKL's reproducibility setting as it is now (``MKL_CBWR_*`` bits), or None where it cannot be read."""
    if not torch.backends.mkl.is_available():
        return None
    try:
        get = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so")).mkl_serv_cbwr_get
    except (OSError, AttributeError):  # another platform's library name, or MKL linked differently
        return None
    get.argtypes, get.restype = [ctypes.c_int], ctypes.c_int
    return get(-1)  # MKL_CBWR_ALL


STRICT_BIT = 0x10000  # MKL_CBWR_STRICT


def why_counts_differ() -> str:
    """Why one and several threads give different numbers here, in words (for the note the run prints)."""
    cpu = processor_name()
    if not torch.backends.mkl.is_available():
        return f"on this processor ({cpu}) its matrix products round differently on different thread counts"
    mode, asked = mkl_mode(), os.environ.get(MKL_MODE_VARIABLE, "")
    if asked.replace(" ", "").upper() != STRICT_MKL_MODE:
        return (f"{MKL_MODE_VARIABLE} is set to {asked!r}, so Intel MKL may round differently on different thread "
                f"counts on this processor ({cpu}); unset it or set it to {STRICT_MKL_MODE}")
    if mode is not None and not mode & STRICT_BIT:
        return ("Intel MKL was already in use when helpers was imported, before its strict reproducibility mode "
                "could be asked for: restart the kernel and import helpers before running anything with torch")
    return (f"even in Intel MKL's strict reproducibility mode, one and several threads round differently on this "
            f"processor ({cpu})")


def processor_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), for messages and benchmark reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine() or "unknown"


def thread_counts(device: torch.device) -> list[int]:
    """The CPU thread counts training may move between: PyTorch's count, halved down to 1 (one, if fixed)."""
    fixed = fixed_threads()
    if fixed is not None:
        return [fixed]
    top = torch.get_num_threads()
    if device.type != "cpu" or os.environ.get("OMP_NUM_THREADS", "").strip():
        return [top]
    return [top >> k for k in range(top.bit_length())]  # top, top // 2, ..., 1


def fixed_threads() -> int | None:
    """``LAB_THREADS`` as a number of threads (None if unset); a ValueError if it is not from 1 to the CPU count."""
    fixed = os.environ.get(THREADS_VARIABLE, "").strip()
    if not fixed:
        return None
    cpus = os.cpu_count() or 1
    if not (fixed.isascii() and fixed.isdigit()) or not 1 <= int(fixed) <= cpus:
        raise ValueError(f"{THREADS_VARIABLE} must be a whole number of threads from 1 to {cpus} (this machine's CPU "
                         f"count), got {fixed!r}. Set it to a number in that range, or unset it to let the engine "
                         f"choose.")
    return int(fixed)


@lru_cache(maxsize=16)
def same_numbers_on_all_counts(counts: tuple[int, ...], hidden: tuple[int, ...], models: int,
                               batches: tuple[int, ...], test_rows: int) -> bool:
    """Does one training step (and the test-set forward pass) give bit-identical numbers on every thread count?"""
    g = torch.Generator().manual_seed(0)
    model = StackedMLP([build_mlp("Tanh", seed, hidden=hidden) for seed in range(models)])
    x, y = torch.randn(max(batches), 784, generator=g), torch.randint(0, 10, (max(batches),), generator=g)
    x_test = torch.randn(test_rows, 784, generator=g)
    before, results = torch.get_num_threads(), []
    try:
        for n in counts:
            torch.set_num_threads(n)
            out = [model(x_test)]
            for b in batches:
                out += [*model.forward_backward(x[:b], y[:b]), *model.grad_norms(), *(p.grad.clone() for p in model.params)]
            results.append(out)
    finally:
        torch.set_num_threads(before)
    return all(torch.equal(p, q) for other in results[1:] for p, q in zip(results[0], other))
