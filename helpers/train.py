"""The training loop: the practical's, for one or several activations from the same start.

What it records is the practical's: per iteration the loss and the global L2 norm of the gradient over
all parameters (plus each Linear weight's own norm); per epoch the training accuracy (correct / seen
during the epoch) and, beyond the practical, the test accuracy and test loss.

``train_together`` reads as its steps: prepare (config, data, stacked model, optimizer), one epoch of
shuffled batches, the end of an epoch (evaluate, record, callback), finish.  What makes a step fast (the
data as one tensor, several activations in one stacked network, the backward pass written out, Adam in
one call, numbers copied out every ``FLUSH_EVERY`` iterations) is explained in ``helpers/engine.py``.
"""

from __future__ import annotations

import math
import operator
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data import MNISTTensors, load_mnist
from .engine import StackedMLP, ThreadChooser, adam, thread_chooser
from .model import INITS, MLP, activation_name, build_mlp

OPTIMIZERS = ("adam", "sgd")
DEVICE_TYPES = ("cpu", "cuda", "mps")  # what the engine runs on
MAX_SEED = 2 ** 63 - 1  # torch.Generator.manual_seed takes at most 64 bits
FLUSH_EVERY = 50  # iterations between copies of the recorded numbers to Python lists
EVALUATION_CHUNK = 5000  # test images per forward pass when evaluating
# Called with the runs at the end of every training (finished, interrupted or diverged): a hook for tests
# (tests/test_reruns.py fingerprints every run of a notebook) and for anyone who logs experiments.
RUN_HOOKS: list[Callable[[dict[str, "History"]], None]] = []
# A loss far above an untrained network's (ln 10 = 2.30 for 10 classes) in several iterations means the run
# blew up, even when it never becomes NaN (ReLU units then die and the loss falls back to about ln 10).
UNSTABLE_LOSS = 10 * math.log(10)
UNSTABLE_ITERATIONS = 3  # one bad batch is not a blow-up


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``runs`` holds everything recorded before it."""

    def __init__(self, message: str, runs: dict[str, "History"]):
        super().__init__(message)
        self.runs = runs


class TrainingUnstable(UserWarning):
    """The loss blew up (far above ln 10) or a gradient norm overflowed, but never became NaN: the run went on."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by the user; ``runs`` holds the epochs and iterations done."""

    def __init__(self, message: str, runs: dict[str, "History"]):
        super().__init__(message)
        self.runs = runs


@dataclass(frozen=True)
class TrainConfig:
    """One training setup.  The defaults are the practical's."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam", or "sgd" (with ``momentum``; 0 gives plain SGD)
    momentum: float = 0.9
    seed: int = 0
    init: str = "default"  # "default" (PyTorch's), "xavier" or "he"
    init_gain: float = 1.0  # the initial weights times this (1: the init as its authors define it)
    hidden: tuple[int, ...] = (256, 128)
    clip_grad_norm: float | None = None  # clip each model's global gradient norm to this
    train_size: int | None = None  # None: all 60 000 images; fewer only for quick experiments
    device: str | None = None  # None: CUDA, else Apple MPS, else CPU

    def __post_init__(self) -> None:
        problems = []
        hidden = _layer_sizes(self.hidden)
        if hidden is None:
            problems.append(f"hidden must be a tuple of layer sizes, e.g. (256, 128), got {self.hidden!r}")
        else:
            object.__setattr__(self, "hidden", hidden)
        seed = _whole(self.seed)
        if seed is None or not 0 <= seed <= MAX_SEED:
            problems.append(f"seed must be a whole number from 0 to 2**63 - 1, got {self.seed!r}")
        else:
            object.__setattr__(self, "seed", seed)
        if not _is_int(self.epochs) or self.epochs < 1:
            problems.append(f"epochs must be a whole number >= 1, got {self.epochs!r}")
        if not _is_int(self.batch_size) or not 1 <= self.batch_size <= 60000:
            problems.append(f"batch_size must be a whole number from 1 to 60000, got {self.batch_size!r}")
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr <= 10 or math.isnan(self.lr):
            problems.append(f"lr must be a number in (0, 10], got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not 0 <= self.momentum < 1:
            problems.append(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.init not in INITS:
            problems.append(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not isinstance(self.init_gain, (int, float)) or not self.init_gain > 0:
            problems.append(f"init_gain must be a number > 0, got {self.init_gain!r}")
        if hidden is not None and (not hidden or min(hidden) < 1):
            problems.append(f"hidden must list one or more positive layer sizes, got {self.hidden!r}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            problems.append(f"clip_grad_norm must be > 0 or None, got {self.clip_grad_norm!r}")
        if self.train_size is not None and (not _is_int(self.train_size) or self.train_size < 1):
            problems.append(f"train_size must be a whole number >= 1 or None, got {self.train_size!r}")
        if problems:
            raise ValueError("; ".join(problems) + ".")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(value: object) -> int | None:
    """``value`` as a Python int if it is a whole number (an int, a NumPy integer; not a bool or a float), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _layer_sizes(value: object) -> tuple[int, ...] | None:
    """``hidden`` as a tuple of ints, or None if it is not a sequence of whole numbers (5, "256", (256, 1.5))."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return None
    sizes = tuple(_whole(h) for h in value)
    return None if None in sizes else sizes  # type: ignore[return-value]


@dataclass
class History:
    """Everything one training run measured.  Lists grow while it trains (live plots read them)."""

    activation: str
    config: dict
    loss: list[float] = field(default_factory=list)  # per iteration
    grad_norm: list[float] = field(default_factory=list)  # per iteration, over all parameters
    layer_grad_norms: list[list[float]] = field(default_factory=list)  # per iteration, per Linear weight
    train_acc: list[float] = field(default_factory=list)  # per epoch, correct / seen in the epoch
    test_acc: list[float] = field(default_factory=list)  # per epoch, on the 10 000 test images
    test_loss: list[float] = field(default_factory=list)  # per epoch
    epoch_seconds: list[float] = field(default_factory=list)  # wall clock at the end of each epoch
    seconds: float = 0.0  # wall clock of the whole run (shared when activations train together)
    iterations_per_epoch: int = 0
    warnings: list[str] = field(default_factory=list)  # what went wrong without stopping it (TrainingUnstable)
    threads: dict[str, int] = field(default_factory=dict)  # CPU: iterations run at each thread count (engine.py)
    threads_note: str = ""  # CPU: why the engine could not choose its thread count on this machine (engine.py)
    model: MLP | None = field(default=None, repr=False, compare=False)  # the trained network

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (without the model)."""
        out = asdict(replace(self, model=None))
        out.pop("model")
        return out


@dataclass
class Progress:
    """What a callback receives: where training is, and the runs recorded so far."""

    epoch: int
    iteration: int
    total_iterations: int
    runs: dict[str, History]
    epoch_end: bool
    models: Callable[[], dict[str, MLP]] | None = None  # copies of the networks as they are now


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: the one asked for, else CUDA, else Apple MPS, else the CPU."""
    if device is not None:
        device = torch.device(device)
        if device.type not in DEVICE_TYPES:
            raise ValueError(f"device must be cpu, cuda or mps (or e.g. 'cuda:1'), got {device.type!r}: the lab's "
                             f"engine runs on those only.")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU here.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device 'mps' was asked for, but Apple MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def global_grad_norm(model: nn.Module) -> float:
    """The practical's gradient norm: sqrt of the sum over parameters of ||grad||_2 squared."""
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += p.grad.norm(2).item() ** 2
    return total ** 0.5


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = EVALUATION_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """(accuracy, mean cross-entropy) of a StackedMLP ([M] each) or an MLP (scalars) on (x, y)."""
    correct, loss_sum = 0, 0
    for i in range(0, len(x), chunk):
        logits = model(x[i:i + chunk])
        yb = y[i:i + chunk].expand(logits.shape[:-1])
        correct = correct + (logits.argmax(-1) == yb).sum(-1)
        loss_sum = loss_sum + F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none"
        ).view(yb.shape).sum(-1)
    return correct / len(x), loss_sum / len(x)




def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """One epoch's order of the n training images, as ``DataLoader(shuffle=True, generator=generator)`` gives it.

    Each epoch the DataLoader draws a seed for its worker processes from the generator, then a random
    permutation; doing the same here gives the engine and ``helpers.practical`` the same batches.
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    return torch.randperm(n, generator=generator)


def make_optimizer(params, config: TrainConfig, device: torch.device):
    """The practical's Adam at ``config.lr`` (see ``engine.adam``), or SGD with ``config.momentum``."""
    if config.optimizer == "adam":
        return adam(params, config.lr, device)
    return torch.optim.SGD(list(params), lr=config.lr, momentum=config.momentum)


@dataclass
class _Training:
    """Everything one call of ``train_together`` works with."""

    config: TrainConfig
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
    generator: torch.Generator = field(default_factory=torch.Generator)
    start: float = field(default_factory=time.perf_counter)
    done: int = 0  # iterations finished in earlier epochs

    @property
    def steps(self) -> int:
        return self.runs[self.model.activations[0]].iterations_per_epoch

    def progress(self, epoch: int, iteration: int, epoch_end: bool) -> Progress:
        return Progress(epoch, iteration, self.steps * self.config.epochs, self.runs, epoch_end,
                        lambda: dict(zip(self.runs, self.model.to_mlps())))


def train_together(
    activations: Sequence[str],
    config: TrainConfig | None = None,
    *,
    callback: Callable[[Progress], None] | None = None,
    progress: bool = True,
    data: MNISTTensors | None = None,
    **overrides,
) -> dict[str, History]:
    """Train one MLP per activation, all from the same initial weights and on the same batches.

    ``overrides`` change single settings of ``config``, e.g. ``epochs=1``.  Returns one
    :class:`History` per activation; ``History.model`` holds the trained network.
    """
    training = _prepare(activations, replace(config or TrainConfig(), **overrides), data, callback, progress)
    try:
        for epoch in range(1, training.config.epochs + 1):
            correct = _train_epoch(training, epoch)
            _end_epoch(training, epoch, correct)
    except KeyboardInterrupt:
        _finish(training)
        runs = training.runs
        raise TrainingInterrupted(
            f"Training was interrupted after {len(next(iter(runs.values())).train_acc)} full epoch(s) and "
            f"{len(next(iter(runs.values())).loss)} iterations. What was recorded is in the exception's "
            f"`.runs`; run the cell again to start over.", runs) from None
    except TrainingDiverged as err:
        _finish(training)
        err.runs = training.runs
        raise
    finally:
        training.bar.close()
        thread_use = training.threads.close()
        for h in training.runs.values():
            h.threads, h.threads_note = thread_use, training.threads.note
    return _finish(training)


def _prepare(activations: Sequence[str], config: TrainConfig, data: MNISTTensors | None,
             callback: Callable[[Progress], None] | None, progress: bool) -> _Training:
    """Check the names, load the data, build the networks from one seed, stack them, make the optimizer."""
    if isinstance(activations, str):
        raise ValueError(f"give a list of activations, e.g. [{activations!r}], not the string {activations!r} "
                         f"(or use train({activations!r}) for one).")
    names = [activation_name(a) for a in activations]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"Give one or more different activations, got {list(activations)!r}.")
    device = pick_device(config.device)
    data = data if data is not None else load_mnist(device)
    model = StackedMLP([build_mlp(n, config.seed, hidden=config.hidden, init=config.init,
                                  init_gain=config.init_gain) for n in names]).to(device)
    n_train = len(data.train_x) if config.train_size is None else min(config.train_size, len(data.train_x))
    steps = math.ceil(n_train / config.batch_size)  # the last batch may be smaller, as in DataLoader
    record = {**asdict(config), "device": str(device), "trained_together": names}
    runs = {n: History(n, dict(record), iterations_per_epoch=steps) for n in names}

    from tqdm.auto import tqdm  # imported here: notebooks that never train need no progress bar

    batches = tuple({config.batch_size, n_train - (steps - 1) * config.batch_size})  # the last may be smaller
    threads = thread_chooser(device, model, batches, min(EVALUATION_CHUNK, len(data.test_x)), config.batch_size)
    bar = tqdm(total=steps * config.epochs, desc=" + ".join(names), unit="it", disable=not progress, leave=True)
    return _Training(config, model, make_optimizer(model.parameters(), config, device),
                     data.train_x[:n_train].to(device), data.train_y[:n_train].to(device),
                     data.test_x.to(device), data.test_y.to(device), runs, callback, bar, threads,
                     generator=torch.Generator().manual_seed(config.seed))


def _train_epoch(t: _Training, epoch: int) -> torch.Tensor:
    """One pass over the shuffled training set; returns each model's count of correct predictions."""
    config, model = t.config, t.model
    order = epoch_order(len(t.x), t.generator).to(t.x.device)
    rows: list[torch.Tensor] = []  # per iteration: [M, 2 + L] = loss, global norm, layer norms
    correct = torch.zeros(len(t.runs), dtype=torch.long, device=t.x.device)
    flushed = 0
    t.threads.restart_clock()  # the evaluation before this epoch is not a training step
    for step in range(t.steps):
        batch = order[step * config.batch_size:(step + 1) * config.batch_size]
        xb, yb = t.x.index_select(0, batch), t.y.index_select(0, batch)
        logits, losses = model.forward_backward(xb, yb)  # what loss.backward() computes: sets each .grad
        total, per_layer = model.grad_norms()
        with torch.no_grad():  # recorded before the update, while these numbers are still in cache
            rows.append(torch.cat([losses[:, None], total[:, None], per_layer], 1))
            correct += (logits.argmax(-1) == yb).sum(1)
        if config.clip_grad_norm is not None:
            model.clip_grads_(total, config.clip_grad_norm)
        t.optimizer.step()
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


def _end_epoch(t: _Training, epoch: int, correct: torch.Tensor) -> None:
    """Evaluate on the test set, record the epoch's accuracies, tell the callback."""
    accuracy, test_loss = evaluate(t.model, t.x_test, t.y_test)
    elapsed = time.perf_counter() - t.start
    for i, h in enumerate(t.runs.values()):
        h.train_acc.append(correct[i].item() / len(t.x))
        h.test_acc.append(accuracy[i].item())
        h.test_loss.append(test_loss[i].item())
        h.epoch_seconds.append(elapsed)
        h.seconds = elapsed
    t.bar.set_postfix({n: f"{h.test_acc[-1]:.3f}" for n, h in t.runs.items()})
    _warn_if_unstable(t.runs)
    if t.callback is not None:
        t.callback(t.progress(epoch, t.done, epoch_end=True))


def instability(h: History) -> str | None:
    """Why a run is unstable without being NaN (losses far above ln 10 in several iterations, or a gradient norm
    that overflowed), or None."""
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


def _warn_if_unstable(runs: dict[str, History]) -> None:
    """Record and warn (``TrainingUnstable``, once per run) about runs whose loss blew up without becoming NaN."""
    for h in runs.values():
        message = None if h.warnings else instability(h)
        if message is not None:
            h.warnings.append(message)
            warnings.warn(TrainingUnstable(message), stacklevel=2)


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
            f"The history up to that point is in the exception's `.runs`.",
            runs,
        )


def _finish(t: _Training) -> dict[str, History]:
    """Attach the trained networks and the wall clock to the runs, and call the ``RUN_HOOKS``."""
    for h, mlp in zip(t.runs.values(), t.model.to_mlps()):
        h.model = mlp
        h.seconds = time.perf_counter() - t.start
    for hook in RUN_HOOKS:
        hook(t.runs)
    return t.runs


def train(activation: str, config: TrainConfig | None = None, **kwargs) -> History:
    """Train one MLP with ``activation`` (the practical's settings unless told otherwise)."""
    name = activation_name(activation)
    return train_together([name], config, **kwargs)[name]
