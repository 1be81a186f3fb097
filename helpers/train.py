"""The training engine: the practical's loop, made fast enough to run a whole comparison in seconds.

What it records is the practical's: per iteration the loss and the global L2 norm of
the gradient over all parameters (plus each Linear weight's own norm); per epoch the
training accuracy (correct / seen during the epoch) and, beyond the practical, the
test accuracy and test loss.

Why it is fast (see ``benchmarks/speed.py``): the data lives in one normalized tensor,
several activations train *together* in one :class:`StackedMLP` (one step pays the
fixed per-step cost once), the backward pass is written out instead of recorded by
autograd every step, numbers stay on the device until they are flushed every few dozen
iterations, Adam is one call of PyTorch's fused kernel, and denormal floats are flushed to zero.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data import MNISTTensors, load_mnist
from .model import INITS, MLP, activation_backward, activation_name, build_mlp, make_activation

OPTIMIZERS = ("adam", "sgd")
FLUSH_EVERY = 50  # iterations between copies of the recorded numbers to Python lists


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``histories`` holds everything recorded before it."""

    def __init__(self, message: str, histories: dict[str, "History"]):
        super().__init__(message)
        self.histories = histories


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by the user; ``histories`` holds the epochs and iterations done."""

    def __init__(self, message: str, histories: dict[str, "History"]):
        super().__init__(message)
        self.histories = histories


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
    hidden: tuple[int, ...] = (256, 128)
    clip_grad_norm: float | None = None  # clip each model's global gradient norm to this
    train_size: int | None = None  # None: all 60 000 images; fewer only for quick experiments
    device: str | None = None  # None: CUDA, else Apple MPS, else CPU

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        problems = []
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
        if not self.hidden or min(self.hidden) < 1:
            problems.append(f"hidden must list one or more positive layer sizes, got {self.hidden!r}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            problems.append(f"clip_grad_norm must be > 0 or None, got {self.clip_grad_norm!r}")
        if self.train_size is not None and (not _is_int(self.train_size) or self.train_size < 1):
            problems.append(f"train_size must be a whole number >= 1 or None, got {self.train_size!r}")
        if problems:
            raise ValueError("; ".join(problems) + ".")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    model: MLP | None = field(default=None, repr=False, compare=False)  # the trained network

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (without the model)."""
        out = asdict(replace(self, model=None))
        out.pop("model")
        return out


@dataclass
class Progress:
    """What a callback receives: where training is, and the histories recorded so far."""

    epoch: int
    iteration: int
    total_iterations: int
    histories: dict[str, History]
    epoch_end: bool
    models: Callable[[], dict[str, MLP]] | None = None  # copies of the networks as they are now


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: the one asked for, else CUDA, else Apple MPS, else the CPU."""
    if device is not None:
        device = torch.device(device)
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


class StackedMLP(nn.Module):
    """Several same-shaped MLPs trained in lock-step, their weights stacked side by side.

    Model ``m`` owns its own slice of every tensor, and its loss depends on that slice
    only, so its gradients are its own.  Adam and SGD update element by element, so one
    optimizer step on the stack is exactly one step for each model.
    ``tests/test_train.py`` checks all of this against separate ``MLP``s.

    Layout (chosen for speed): layer 1 is one ``[M*H, 784]`` matrix, the models' own
    ``nn.Linear`` weights one below the other, used in one wide matmul because every
    model reads the same batch.  Deeper layers are ``[M, in, out]`` (the transpose of
    ``nn.Linear``'s ``[out, in]``), used with ``torch.baddbmm`` so that their gradients
    come out contiguous.  :meth:`to_mlps` converts back.
    """

    def __init__(self, mlps: Sequence[MLP]) -> None:
        super().__init__()
        if len({m.hidden for m in mlps}) != 1:
            raise ValueError("StackedMLP needs MLPs of one shape; train different shapes separately.")
        self.names = [m.activation_name for m in mlps]
        self.hidden = mlps[0].hidden
        self.activations = nn.ModuleList(make_activation(n) for n in self.names)
        layers = [m.linears() for m in mlps]  # layers[model][layer]
        first = [ls[0] for ls in layers]
        weights = [torch.cat([l.weight.detach() for l in first])]  # [M*H, 784]
        biases = [torch.cat([l.bias.detach() for l in first])]  # [M*H]
        for i in range(1, len(layers[0])):
            weights.append(torch.stack([ls[i].weight.detach().t() for ls in layers]))  # [M, in, out]
            biases.append(torch.stack([ls[i].bias.detach()[None] for ls in layers]))  # [M, 1, out]
        self.weights = nn.ParameterList(nn.Parameter(w.contiguous()) for w in weights)
        self.biases = nn.ParameterList(nn.Parameter(b.contiguous()) for b in biases)
        self.layers = list(zip(self.weights, self.biases))  # plain lists: a ParameterList is slow to index
        self.params = [*self.weights, *self.biases]  # the order of .parameters(): weights first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 784] -> logits [M, B, 10], one slice per model."""
        return self._layers_forward(x)[0]

    def _layers_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """(logits [M, B, C], each hidden layer's activations, each hidden layer's pre-activations)."""
        m, batch = len(self.names), len(x)
        # Layer 1: one wide matmul for all models, [B, 784] @ [784, M*H] -> [B, M, H], seen as [M, B, H].
        w, b = self.layers[0]
        z = torch.addmm(b, x.flatten(1), w.t()).view(batch, m, -1).transpose(0, 1)
        activations, pre_activations = [], []
        for w, b in self.layers[1:]:
            a = torch.stack([act(z_m) for act, z_m in zip(self.activations, z)])  # [M, B, in]
            activations.append(a)
            pre_activations.append(z)
            z = torch.baddbmm(b, a, w)  # [M, B, out]
        return z, activations, pre_activations

    @torch.no_grad()
    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One training pass written out by hand: sets every parameter's ``.grad``.

        Returns (logits [M, B, C], each model's mean cross-entropy [M]).  It computes what
        ``loss.backward()`` would, without building an autograd graph every step (which
        costs more than the arithmetic here); ``tests/test_train.py`` checks it against autograd.
        """
        m, batch = len(self.names), len(x)
        logits, inputs, pre_activations = self._layers_forward(x)
        log_p = torch.log_softmax(logits, dim=-1)
        target = y.expand(m, batch).unsqueeze(-1)
        losses = -log_p.gather(-1, target).squeeze(-1).mean(1)

        # Backward.  For mean cross-entropy, dL/dlogits = (softmax - one_hot(y)) / B.
        # Gradients are written into last step's .grad tensors (out=...): a fresh 2.4 MB block
        # every step fragments the memory heap, and peak memory then grew by up to 0.4 GB.
        delta = log_p.exp().scatter_add_(-1, target, torch.full(target.shape, -1.0, device=x.device)) / batch
        for (w, b), a, z in zip(self.layers[:0:-1], inputs[::-1], pre_activations[::-1]):
            w.grad = torch.bmm(a.transpose(1, 2), delta, out=w.grad)  # dL/dW = input^T delta, per model
            b.grad = torch.sum(delta, 1, keepdim=True, out=b.grad)
            upstream = torch.bmm(delta, w.transpose(1, 2))  # dL/d(input)
            delta = torch.stack([activation_backward(name, g, z_m, a_m)  # through the activation: times f'(z)
                                 for name, g, z_m, a_m in zip(self.names, upstream, z, a)])
        w, b = self.layers[0]  # layer 1: the models side by side again, [B, M*H]
        delta = delta.transpose(0, 1).reshape(batch, -1)
        w.grad = torch.mm(delta.t(), x.flatten(1), out=w.grad)
        b.grad = torch.sum(delta, 0, out=b.grad)
        return logits, losses

    def grad_norms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(global L2 norm [M], L2 norm of each layer's weight gradient [M, L]), per model."""
        m = len(self.names)
        # Every parameter holds the models one after the other, so .view(m, -1) gives each model a row.
        norms = torch.stack([torch.linalg.vector_norm(p.grad.view(m, -1), dim=1) for p in self.params], 1)
        # sqrt of the sum of squared per-tensor norms = the norm over all parameters (the practical's loop)
        return torch.linalg.vector_norm(norms, dim=1), norms[:, :len(self.layers)]  # weights come first

    def clip_grads_(self, total: torch.Tensor, max_norm: float) -> None:
        """``clip_grad_norm_`` for each model on its own: scale its gradients to at most ``max_norm``."""
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        m = len(self.names)
        for w, b in self.layers:
            if w.dim() == 2:  # layer 1: one model after the other
                w.grad.view(m, -1).mul_(scale.view(m, 1))
                b.grad.view(m, -1).mul_(scale.view(m, 1))
            else:
                w.grad.mul_(scale.view(m, 1, 1))
                b.grad.mul_(scale.view(m, 1, 1))

    def to_mlps(self) -> list[MLP]:
        """Separate ordinary MLPs holding the current weights (for inspection after training)."""
        m = len(self.names)
        mlps = []
        for i, name in enumerate(self.names):
            mlp = MLP(name, hidden=self.hidden).to(self.weights[0].device)
            with torch.no_grad():
                for layer, w, b in zip(mlp.linears(), self.weights, self.biases):
                    if w.dim() == 2:
                        layer.weight.copy_(w.view(m, -1, w.shape[1])[i])
                        layer.bias.copy_(b.view(m, -1)[i])
                    else:
                        layer.weight.copy_(w[i].t())
                        layer.bias.copy_(b[i, 0])
            mlps.append(mlp)
        return mlps


class FusedAdam:
    """Adam as one call of PyTorch's fused kernel per step: the update ``torch.optim.Adam(fused=True)`` makes.

    ``torch.optim.Adam.step`` spends about 0.3 ms per call on Python bookkeeping (hooks, state
    checks, a dozen tiny tensor copies), 10 % of a whole training step here.  This keeps the same
    state and calls the same kernel; ``tests/test_train.py`` checks the weights agree bit for bit.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]  # m: running mean of the gradient
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]  # v: running mean of its square
        self.t = torch.zeros((), device=self.params[0].device)  # steps taken; the kernel reads it per parameter

    def step(self) -> None:
        with torch.no_grad():
            self.t += 1
            torch._fused_adam_(
                self.params, [p.grad for p in self.params], self.exp_avgs, self.exp_avg_sqs, [],
                [self.t] * len(self.params), lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False,
            )


def make_optimizer(params, config: TrainConfig, device: torch.device) -> FusedAdam | torch.optim.Optimizer:
    """Adam (:class:`FusedAdam` on CPU and CUDA, which have the kernel) or SGD with momentum, at ``config.lr``."""
    params = list(params)
    if config.optimizer == "adam":
        if device.type in ("cpu", "cuda"):
            return FusedAdam(params, lr=config.lr)
        return torch.optim.Adam(params, lr=config.lr)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 5000) -> tuple[torch.Tensor, torch.Tensor]:
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
    config = replace(config or TrainConfig(), **overrides)
    names = [activation_name(a) for a in activations]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"Give one or more different activations, got {list(activations)!r}.")
    device = pick_device(config.device)
    data = data if data is not None else load_mnist(device)
    torch.set_flush_denormal(True)  # saturated sigmoid/tanh gradients are denormal: slow on x86

    mlps = [build_mlp(n, config.seed, hidden=config.hidden, init=config.init) for n in names]
    model = StackedMLP(mlps).to(device)
    optimizer = make_optimizer(model.parameters(), config, device)

    n_train = len(data.train_x) if config.train_size is None else min(config.train_size, len(data.train_x))
    x_all, y_all = data.train_x[:n_train].to(device), data.train_y[:n_train].to(device)
    x_test, y_test = data.test_x.to(device), data.test_y.to(device)
    steps = math.ceil(n_train / config.batch_size)  # the last batch may be smaller, as in DataLoader
    total_steps = steps * config.epochs
    record = {**asdict(config), "device": str(device), "trained_together": names}
    histories = {n: History(n, dict(record), iterations_per_epoch=steps) for n in names}

    from tqdm.auto import tqdm  # imported here: notebooks that never train need no progress bar

    bar = tqdm(total=total_steps, desc=" + ".join(names), unit="it", disable=not progress, leave=True)

    def snapshot() -> dict[str, MLP]:
        return dict(zip(names, model.to_mlps()))

    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    done = 0
    try:
        for epoch in range(1, config.epochs + 1):
            order = torch.randperm(n_train, generator=generator).to(device)  # DataLoader(shuffle=True)
            rows: list[torch.Tensor] = []  # per iteration: [M, 2 + L] = loss, global norm, layer norms
            correct = torch.zeros(len(names), dtype=torch.long, device=device)
            flushed = 0
            for step in range(steps):
                batch = order[step * config.batch_size:(step + 1) * config.batch_size]
                xb, yb = x_all.index_select(0, batch), y_all.index_select(0, batch)
                logits, losses = model.forward_backward(xb, yb)  # sets each parameter's .grad
                total, per_layer = model.grad_norms()
                with torch.no_grad():  # recorded before the update, while these numbers are still in cache
                    rows.append(torch.cat([losses[:, None], total[:, None], per_layer], 1))
                    correct += (logits.argmax(-1) == yb).sum(1)
                if config.clip_grad_norm is not None:
                    model.clip_grads_(total, config.clip_grad_norm)
                optimizer.step()
                if (step + 1) % FLUSH_EVERY == 0 or step + 1 == steps:
                    _flush(torch.stack(rows[flushed:]), histories, done + flushed, epoch)
                    bar.update(step + 1 - flushed)
                    flushed = step + 1
                    if callback is not None and step + 1 < steps:
                        callback(Progress(epoch, done + flushed, total_steps, histories, False, snapshot))
            done += steps
            accuracy, test_loss = evaluate(model, x_test, y_test)
            elapsed = time.perf_counter() - start
            for i, h in enumerate(histories.values()):
                h.train_acc.append(correct[i].item() / n_train)
                h.test_acc.append(accuracy[i].item())
                h.test_loss.append(test_loss[i].item())
                h.epoch_seconds.append(elapsed)
                h.seconds = elapsed
            bar.set_postfix({n: f"{h.test_acc[-1]:.3f}" for n, h in histories.items()})
            if callback is not None:
                callback(Progress(epoch, done, total_steps, histories, True, snapshot))
    except KeyboardInterrupt:
        _finish(histories, model, start)
        raise TrainingInterrupted(
            f"Training was interrupted after {sum(len(h.train_acc) for h in histories.values()) // len(names)} "
            f"full epoch(s) and {len(next(iter(histories.values())).loss)} iterations. "
            f"What was recorded is in the exception's `.histories`; run the cell again to start over.",
            histories,
        ) from None
    except TrainingDiverged as err:
        _finish(histories, model, start)
        err.histories = histories
        raise
    finally:
        bar.close()
    _finish(histories, model, start)
    return histories


def _flush(rows: torch.Tensor, histories: dict[str, History], first_iteration: int, epoch: int) -> None:
    """Copy recorded rows [k, M, 2 + L] to the histories; stop at the first non-finite loss."""
    rows = rows.cpu()
    bad = ~torch.isfinite(rows[:, :, 0])
    keep = len(rows) if not bad.any() else int(bad.any(1).nonzero()[0, 0])
    for i, h in enumerate(histories.values()):
        h.loss.extend(rows[:keep, i, 0].tolist())
        h.grad_norm.extend(rows[:keep, i, 1].tolist())
        h.layer_grad_norms.extend(rows[:keep, i, 2:].tolist())
    if keep < len(rows):
        which = [n for n, col in zip(histories, bad[keep]) if col]
        raise TrainingDiverged(
            f"The loss of {', '.join(which)} became NaN or infinite at iteration "
            f"{first_iteration + keep + 1} (epoch {epoch}): the gradients exploded. "
            f"Lower the learning rate, use a smaller initialisation, or set clip_grad_norm. "
            f"The history up to that point is in the exception's `.histories`.",
            histories,
        )


RUN_LOG: list[dict] = []  # a fingerprint of every run in this process (tests compare two executions)


def _finish(histories: dict[str, History], model: StackedMLP, start: float) -> None:
    """Attach the trained networks and the wall clock to the histories, and log a fingerprint."""
    for h, mlp in zip(histories.values(), model.to_mlps()):
        h.model = mlp
        h.seconds = time.perf_counter() - start
        numbers = repr((h.loss, h.grad_norm, h.layer_grad_norms, h.train_acc, h.test_acc, h.test_loss))
        RUN_LOG.append({"activation": h.activation, "iterations": len(h.loss), "test_acc": h.test_acc,
                        "config": {k: v for k, v in h.config.items() if k != "device"},
                        "numbers_sha1": hashlib.sha1(numbers.encode()).hexdigest()})


def train(activation: str, config: TrainConfig | None = None, **kwargs) -> History:
    """Train one MLP with ``activation`` (the practical's settings unless told otherwise)."""
    name = activation_name(activation)
    return train_together([name], config, **kwargs)[name]
