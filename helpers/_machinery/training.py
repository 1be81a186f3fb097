"""The bookkeeping of ``train_together``'s loop: everything but the loop itself (``helpers/train.py``).

Machinery: the data on the device, the activations in one ``StackedMLP``, the numbers copied to the ``History``
lists every ``FLUSH_EVERY`` iterations, the threads, the progress bar, and how a run ends (normally, ■, NaN).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Sequence

import torch

from ..activations import activation_name
from ..data import MNISTTensors, load_mnist
from ..history import History, Progress, TrainingDiverged, TrainingInterrupted, TrainingUnstable
from ..model import build_mlp
from . import diagnostics
from .engine import StackedMLP, adam
from .threads import ThreadChooser, thread_chooser

FLUSH_EVERY = 50  # iterations between copies of the recorded numbers to Python lists
EVALUATION_CHUNK = 5000  # test images per forward pass when evaluating
# A loss far above an untrained network's (ln 10 = 2.30 for 10 classes) in several iterations means the run
# blew up, even when it never becomes NaN (ReLU units then die and the loss falls back to about ln 10).
UNSTABLE_LOSS = 10 * math.log(10)
UNSTABLE_ITERATIONS = 3  # one bad batch is not a blow-up
CHANCE_ACCURACY = 0.12  # 10 classes; always answering "1" scores 11.35 % on MNIST's test set
START_ITERATIONS = 10  # "where the loss started": the mean of the first iterations


@dataclass
class Run:
    """Everything one call of ``train_together`` works with."""

    config: object  # the TrainConfig
    model: StackedMLP
    optimizer: object
    x: torch.Tensor  # training images [N, 784], normalized, on the device
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    runs: dict[str, History]
    callback: Callable[[Progress], None] | None
    bar: object  # tqdm progress bar
    threads: ThreadChooser  # CPU: moves to fewer threads when other programs hold the cores
    steps: int  # iterations per epoch
    generator: torch.Generator = field(default_factory=torch.Generator)
    start: float = field(default_factory=time.perf_counter)
    done: int = 0  # iterations finished in earlier epochs

    def progress(self, epoch: int, iteration: int, epoch_end: bool) -> Progress:
        return Progress(epoch, iteration, self.steps * self.config.epochs, self.runs, epoch_end,
                        lambda: dict(zip(self.runs, self.model.to_mlps())))


def start(activations: Sequence[str], config, device: torch.device, data: MNISTTensors | None,
          callback: Callable[[Progress], None] | None, progress: bool) -> Run:
    """Check the names, load the data, build the networks from one seed, stack them, make the optimizer."""
    if isinstance(activations, str):
        raise ValueError(f"give a list of activations, e.g. [{activations!r}], not the string {activations!r} "
                         f"(or use train({activations!r}) for one).")
    names = [activation_name(a) for a in activations]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"Give one or more different activations, got {list(activations)!r}.")
    data = data if data is not None else load_mnist(device)
    model = StackedMLP([build_mlp(n, config.seed, hidden=config.hidden, init=config.init,
                                  init_gain=config.init_gain) for n in names]).to(device)
    n_train = len(data.train_x) if config.train_size is None else min(config.train_size, len(data.train_x))
    steps = math.ceil(n_train / config.batch_size)  # the last batch may be smaller, as in DataLoader
    record = {**asdict(config), "device": str(device), "trained_together": names}
    runs = {n: History(n, dict(record), iterations_per_epoch=steps) for n in names}
    if config.diagnostics_every:  # notebook 05 §5: update ratios and activation histograms every k iterations
        for n, h in runs.items():
            h.diagnostics = diagnostics.empty(n, config.diagnostics_every, len(config.hidden))
    from tqdm.auto import tqdm  # imported here: notebooks that never train need no progress bar
    batches = tuple({config.batch_size, n_train - (steps - 1) * config.batch_size})  # the last may be smaller
    threads = thread_chooser(device, model, batches, min(EVALUATION_CHUNK, len(data.test_x)), config.batch_size)
    bar = tqdm(total=steps * config.epochs, desc=" + ".join(names), unit="it", disable=not progress, leave=True)
    optimizer = (adam(model.parameters(), config.lr, device) if config.optimizer == "adam" else
                 torch.optim.SGD(list(model.parameters()), lr=config.lr, momentum=config.momentum))
    return Run(config, model, optimizer, data.train_x[:n_train].to(device), data.train_y[:n_train].to(device),
               data.test_x.to(device), data.test_y.to(device), runs, callback, bar, threads, steps,
               generator=torch.Generator().manual_seed(config.seed))


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """One epoch's order of the n training images, as ``DataLoader(shuffle=True, generator=generator)`` gives it."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the DataLoader's seed for its workers
    return torch.randperm(n, generator=generator)


def one_epoch(t: Run, epoch: int) -> torch.Tensor:
    """One pass over the shuffled training set; returns each model's count of correct predictions."""
    config, model = t.config, t.model
    order = epoch_order(len(t.x), t.generator).to(t.x.device)
    rows: list[torch.Tensor] = []  # per iteration: [M, 2 + L] = loss, global norm, layer norms
    correct = torch.zeros(len(t.runs), dtype=torch.long, device=t.x.device)
    flushed = 0
    every = config.diagnostics_every  # 0: none
    t.threads.restart_clock()  # the evaluation before this epoch is not a training step
    for step in range(t.steps):
        batch = order[step * config.batch_size:(step + 1) * config.batch_size]
        xb, yb = t.x.index_select(0, batch), t.y.index_select(0, batch)
        watch = every > 0 and (t.done + step) % every == 0
        logits, losses = model.forward_backward(xb, yb, keep=watch)  # what loss.backward() computes: sets .grad
        total, per_layer = model.grad_norms()
        with torch.no_grad():  # recorded before the update, while these numbers are still in cache
            rows.append(torch.cat([losses[:, None], total[:, None], per_layer], 1))
            correct += (logits.argmax(-1) == yb).sum(1)
        if config.clip_grad_norm is not None:
            model.clip_grads_(total, config.clip_grad_norm)
        before = diagnostics.weights_now(model) if watch else None
        t.optimizer.step()
        if watch:
            diagnostics.record(model, t.runs, before, t.done + step)
        t.threads.after_step()
        if (step + 1) % FLUSH_EVERY == 0 or step + 1 == t.steps:  # numbers to Python lists, in blocks
            _flush(torch.stack(rows[flushed:]), t.runs, t.done + flushed, epoch)
            t.bar.update(step + 1 - flushed)
            flushed = step + 1
            if t.callback is not None and step + 1 < t.steps:
                t.callback(t.progress(epoch, t.done + flushed, epoch_end=False))
            t.threads.restart_clock()
    t.done += t.steps
    return correct


def end_epoch(t: Run, epoch: int, correct: torch.Tensor, accuracy: torch.Tensor, test_loss: torch.Tensor) -> None:
    """Record the epoch's accuracies, warn about a blow-up, tell the callback."""
    elapsed = time.perf_counter() - t.start
    for i, h in enumerate(t.runs.values()):
        h.train_acc.append(correct[i].item() / len(t.x))
        h.test_acc.append(accuracy[i].item())
        h.test_loss.append(test_loss[i].item())
        h.epoch_seconds.append(elapsed)
        h.seconds = elapsed
    t.bar.set_postfix({n: f"{h.test_acc[-1]:.3f}" for n, h in t.runs.items()})
    last = epoch == t.config.epochs
    for h in t.runs.values():  # a run that blew up without a NaN, or ended learning nothing: warned about, once
        if not h.warnings and (message := instability(h) or (learned_nothing(h) if last else None)) is not None:
            h.warnings.append(message)
            warnings.warn(TrainingUnstable(message))
    if t.callback is not None:
        t.callback(t.progress(epoch, t.done, epoch_end=True))


def instability(h: History) -> str | None:
    """Why a run blew up without a NaN loss (losses far above ln 10, or a gradient norm that overflowed), or None."""
    high = [i for i, v in enumerate(h.loss) if v > UNSTABLE_LOSS]
    overflow = next((i for i, g in enumerate(h.grad_norm) if not math.isfinite(g)), None)
    parts = []
    if len(high) >= UNSTABLE_ITERATIONS:
        parts.append(f"its loss was above {UNSTABLE_LOSS:.0f} (ten times an untrained network's, ln 10 = 2.30) in "
                     f"{len(high)} iterations from iteration {high[0] + 1}, up to {max(h.loss):.3g}")
    if overflow is not None:
        parts.append(f"its gradient norm overflowed to infinity at iteration {overflow + 1}")
    if not parts:
        return None
    when = f" by the end of epoch {len(h.test_acc)}" if h.test_acc else ""
    accuracy = f" Its test accuracy is {100 * h.test_acc[-1]:.1f} % (chance: 10 %)." if h.test_acc else ""
    return (f"The {h.activation} run blew up{when}: {' and '.join(parts)}; its loss is still finite (not NaN), so "
            f"training went on.{accuracy} Lower the learning rate, or set clip_grad_norm; do not trust this run's "
            f"numbers.")


def learned_nothing(h: History) -> str | None:
    """Why a finished run learned nothing (test accuracy at chance, or a last epoch's loss not below the start's)."""
    start, end = sum(h.loss[:START_ITERATIONS]) / len(h.loss[:START_ITERATIONS]), sum(h.loss[-h_steps(h):]) / h_steps(h)
    at_chance, stuck = h.test_acc[-1] < CHANCE_ACCURACY, len(h.test_acc) > 1 and end >= start
    if not (at_chance or stuck):
        return None
    why = " and ".join(filter(None, [
        f"its test accuracy is {100 * h.test_acc[-1]:.1f} % (chance: 10 %)" if at_chance else "",
        f"its loss over the last epoch ({end:.3g}) is not below its first iterations' ({start:.3g})" if stuck else ""]))
    return (f"The {h.activation} run learned nothing in {len(h.test_acc)} epoch(s): {why}. The usual causes: a "
            f"learning rate too large (lower it), or gradients that vanish in a deep Sigmoid or Tanh network (notebook "
            f"05 §3); do not read its numbers as a trained network's.")


def h_steps(h: History) -> int:
    """Iterations in the run's last epoch (at least 1)."""
    return max(1, len(h.loss) // max(1, len(h.test_acc)))


def _flush(rows: torch.Tensor, runs: dict[str, History], first_iteration: int, epoch: int) -> None:
    """Copy recorded rows [k, M, 2 + L] to the runs; stop at the first non-finite loss."""
    rows = rows.cpu()
    bad = ~torch.isfinite(rows[:, :, 0])
    keep = len(rows) if not bad.any() else int(bad.any(1).nonzero()[0, 0])
    for i, h in enumerate(runs.values()):
        h.loss.extend(rows[:keep, i, 0].tolist())
        h.grad_norm.extend(rows[:keep, i, 1].tolist())
        h.layer_grad_norms.extend(rows[:keep, i, 2:].tolist())
    if keep < len(rows):
        which = [n for n, col in zip(runs, bad[keep]) if col]
        raise TrainingDiverged(
            f"The loss of {', '.join(which)} became NaN or infinite at iteration "
            f"{first_iteration + keep + 1} (epoch {epoch}): the gradients exploded. "
            f"Lower the learning rate, use a smaller initialisation, or set clip_grad_norm. "
            f"The history up to that point is in the exception's `.runs`.", runs)


@contextlib.contextmanager
def finishing(t: Run) -> Iterator[None]:
    """Around the epochs: however training ends, put the threads back and attach the networks to the runs."""
    try:
        yield
    except (KeyboardInterrupt, TrainingDiverged) as err:
        finish(t)
        if isinstance(err, TrainingDiverged):
            err.runs = t.runs
            raise
        h = next(iter(t.runs.values()))
        raise TrainingInterrupted(
            f"Training was interrupted after {len(h.train_acc)} full epoch(s) and {len(h.loss)} iterations. What "
            f"was recorded is in the exception's `.runs`; run the cell again to start over.", t.runs) from None
    finally:
        t.bar.close()
        thread_use = t.threads.close()
        for h in t.runs.values():
            h.threads, h.threads_note = thread_use, t.threads.note
    finish(t)


def finish(t: Run) -> dict[str, History]:
    """Attach the trained networks and the wall clock to the runs."""
    for h, mlp in zip(t.runs.values(), t.model.to_mlps()):
        h.model = mlp
        h.seconds = time.perf_counter() - t.start
    return t.runs
