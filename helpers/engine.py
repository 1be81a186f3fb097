"""The fast engine behind ``train_together``: what ``loss.backward()`` and ``optimizer.step()`` compute, done faster.

Read ``helpers/model.py`` for the network and ``helpers/train.py`` for the training loop first; this file
is the machinery.  Several same-shaped MLPs train side by side in one :class:`StackedMLP` (a step's fixed
cost is paid once), its backward pass is written out instead of recorded by autograd every step, and
Adam is one kernel call.  ``tests/test_train.py`` checks each piece against plain PyTorch.
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
from torch import nn

from .model import DERIVATIVES, MLP, build_mlp, make_activation

PUBLIC_ONLY_VARIABLE = "LAB_PUBLIC_TORCH"  # set to 1: never use PyTorch's private kernels below

# Intel MKL (PyTorch's CPU matrix products on x86) rounds a product differently on different thread counts on
# some processors (seen on a Xeon with AVX-512).  In its strict "conditional numerical reproducibility" mode,
# ?gemm gives the same bits on any thread count (AVX2 and AVX-512 code paths); MKL reads this variable at its
# first call, which is later than `import torch`, so setting it here works unless a product already ran.
# A value the user set is kept.  Where MKL is absent (macOS, Arm) it is ignored; the start-up check decides.
MKL_MODE_VARIABLE, STRICT_MKL_MODE = "MKL_CBWR", "AUTO,STRICT"
os.environ.setdefault(MKL_MODE_VARIABLE, STRICT_MKL_MODE)

# ----------------------------------------------------------------------------- the chain rule through an activation

# dL/dz = dL/da * f'(z), with f' written with z and a = f(z) in the order PyTorch's own kernels use.
CHAIN_RULE: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Sigmoid": lambda upstream, z, a: upstream * (1 - a) * a,
    "Tanh": lambda upstream, z, a: upstream * (1 - a * a),
    "ReLU": lambda upstream, z, a: upstream.masked_fill(z <= 0, 0.0),
}
# Private fast path: the fused kernels autograd itself calls, one pass over memory instead of two or three.
# Measured gain: the comparison (3 activations, 1 epoch, 2-core CPU, 6 interleaved runs each) took a median
# 2.15 s with them and 2.28 s without (6 %).  Used only when ``private_fast_paths()`` found them agreeing.
_FUSED_CHAIN_RULE: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Sigmoid": lambda upstream, z, a: torch.ops.aten.sigmoid_backward(upstream, a),
    "Tanh": lambda upstream, z, a: torch.ops.aten.tanh_backward(upstream, a),
    "ReLU": lambda upstream, z, a: torch.ops.aten.threshold_backward(upstream, z, 0.0),
}


def activation_backward(name: str, upstream: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """dL/dz = dL/da * f'(z): backpropagation through an activation a = f(z)."""
    if name in CHAIN_RULE:
        table = _FUSED_CHAIN_RULE if "backward" in private_fast_paths() else CHAIN_RULE
        return table[name](upstream, z, a)
    return upstream * DERIVATIVES[name](z, a)


# ----------------------------------------------------------------------------- Adam in one call

class FusedAdam:
    """Adam as one call of PyTorch's fused kernel per step: the update ``torch.optim.Adam(fused=True)`` makes.

    ``torch.optim.Adam.step`` spends about 0.3 ms per call on Python bookkeeping (hooks, state checks,
    a dozen tiny tensor copies).  This keeps the same state and calls the same private kernel, so it is
    used only when ``private_fast_paths()`` found it computing what ``torch.optim.Adam`` computes.
    Measured gain: the comparison (3 activations, 1 epoch, 2-core CPU, 6 interleaved runs each) took a
    median 2.15 s with it and 2.35 s with ``torch.optim.Adam(fused=True)`` (9 %).
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


def adam(params, lr: float, device: torch.device) -> FusedAdam | torch.optim.Adam:
    """Adam at ``lr``: :class:`FusedAdam` where the private kernel checked out, else ``torch.optim.Adam``."""
    params = list(params)
    if device.type in ("cpu", "cuda") and "adam" in private_fast_paths():
        return FusedAdam(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, fused=device.type in ("cpu", "cuda"))


# ----------------------------------------------------------------------------- the start-up check

@lru_cache(maxsize=1)
def private_fast_paths() -> frozenset[str]:
    """The private kernels this PyTorch has *and* that compute what their public twins do: "adam", "backward".

    Private signatures can change in any release: each is tried once, on small tensors, against the
    public path; a missing or disagreeing one is simply not used.  ``LAB_PUBLIC_TORCH=1`` turns both off.
    """
    if os.environ.get(PUBLIC_ONLY_VARIABLE, "").strip() == "1":
        return frozenset()
    found = set()
    for name, check in (("adam", _fused_adam_agrees), ("backward", _fused_chain_rule_agrees)):
        try:
            if check():
                found.add(name)
        except Exception:  # noqa: BLE001 - a private call that fails in any way is simply not used
            pass
    return frozenset(found)


def _fused_chain_rule_agrees() -> bool:
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.linspace(-8, 8, 401), torch.randn(600, generator=g)])  # includes z = 0
    upstream, close = torch.randn(z.shape, generator=g), lambda p, q: torch.allclose(p, q, rtol=1e-6, atol=1e-7)
    return all(close(_FUSED_CHAIN_RULE[n](upstream, z, a), CHAIN_RULE[n](upstream, z, a))
               for n in CHAIN_RULE for a in [make_activation(n)(z)])


def _fused_adam_agrees() -> bool:
    # Against Adam's update written out (Kingma & Ba, Algorithm 1, as torch.optim.Adam computes it), not
    # against torch.optim.Adam itself: constructing that imports torch._dynamo, a second of start-up.
    # tests/test_train.py checks FusedAdam against torch.optim.Adam.
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(7, 5, generator=g), torch.randn(5, generator=g)]
    ours, plain = [nn.Parameter(p.clone()) for p in start], [p.clone() for p in start]
    optimizer, lr, (beta1, beta2), eps = FusedAdam(ours, lr=0.1), 0.1, (0.9, 0.999), 1e-8
    m, v = [torch.zeros_like(p) for p in start], [torch.zeros_like(p) for p in start]
    for t in range(1, 4):
        grads = [torch.randn(p.shape, generator=g) for p in start]
        for p, grad in zip(ours, grads):
            p.grad = grad.clone()
        optimizer.step()
        for p, grad, m_i, v_i in zip(plain, grads, m, v):
            m_i.mul_(beta1).add_(grad, alpha=1 - beta1)
            v_i.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v_i / (1 - beta2 ** t)).sqrt().add_(eps)
            p.addcdiv_(m_i, denom, value=-lr / (1 - beta1 ** t))
    return all(torch.allclose(p, q, rtol=1e-5, atol=1e-6) and not torch.equal(p, s) for p, q, s in zip(ours, plain, start))


# ----------------------------------------------------------------------------- several MLPs as one

class StackedMLP(nn.Module):
    """Several same-shaped MLPs trained in lock-step, their weights stacked side by side.

    Model ``m`` owns its own slice of every tensor, and its loss depends on that slice only, so its
    gradients are its own.  Adam and SGD update element by element, so one optimizer step on the stack
    is exactly one step for each model.  Layout (for speed): layer 1 is one ``[M*H, 784]`` matrix, the
    models' ``nn.Linear`` weights one below the other, used in one wide matmul because every model reads
    the same batch.  Deeper layers are ``[M, in, out]`` (``nn.Linear``'s ``[out, in]`` transposed), used
    with ``torch.baddbmm`` so that their gradients come out contiguous.  :meth:`to_mlps` converts back.
    """

    def __init__(self, mlps: Sequence[MLP]) -> None:
        super().__init__()
        if len({m.hidden for m in mlps}) != 1:
            raise ValueError("StackedMLP needs MLPs of one shape; train different shapes separately.")
        self.activations = [m.activation for m in mlps]
        self.hidden = mlps[0].hidden
        self.functions = nn.ModuleList(make_activation(n) for n in self.activations)
        layers = [m.linears() for m in mlps]  # layers[model][layer]
        weights = [torch.cat([ls[0].weight.detach() for ls in layers])]  # [M*H, 784]
        biases = [torch.cat([ls[0].bias.detach() for ls in layers])]  # [M*H]
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
        m, batch = len(self.activations), len(x)
        # Layer 1: one wide matmul for all models, [B, 784] @ [784, M*H] -> [B, M, H], seen as [M, B, H].
        w, b = self.layers[0]
        z = torch.addmm(b, x.flatten(1), w.t()).view(batch, m, -1).transpose(0, 1)
        outputs, pre_activations = [], []
        for w, b in self.layers[1:]:
            a = torch.stack([f(z_m) for f, z_m in zip(self.functions, z)])  # [M, B, in]
            outputs.append(a)
            pre_activations.append(z)
            z = torch.baddbmm(b, a, w)  # [M, B, out]
        return z, outputs, pre_activations

    @torch.no_grad()
    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One training pass written out by hand: sets every parameter's ``.grad``.

        Returns (logits [M, B, C], each model's mean cross-entropy [M]).  It computes what
        ``loss.backward()`` would, without building an autograd graph every step (which costs more
        than the arithmetic here).
        """
        m, batch = len(self.activations), len(x)
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
                                 for name, g, z_m, a_m in zip(self.activations, upstream, z, a)])
        w, b = self.layers[0]  # layer 1: the models side by side again, [B, M*H]
        delta = delta.transpose(0, 1).reshape(batch, -1)
        w.grad = torch.mm(delta.t(), x.flatten(1), out=w.grad)
        b.grad = torch.sum(delta, 0, out=b.grad)
        return logits, losses

    def grad_norms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(global L2 norm [M], L2 norm of each layer's weight gradient [M, L]), per model."""
        m = len(self.activations)
        # Every parameter holds the models one after the other, so .view(m, -1) gives each model a row.
        norms = torch.stack([torch.linalg.vector_norm(p.grad.view(m, -1), dim=1) for p in self.params], 1)
        # sqrt of the sum of squared per-tensor norms = the norm over all parameters (the practical's loop)
        return torch.linalg.vector_norm(norms, dim=1), norms[:, :len(self.layers)]  # weights come first

    def clip_grads_(self, total: torch.Tensor, max_norm: float) -> None:
        """``clip_grad_norm_`` for each model on its own: scale its gradients to at most ``max_norm``."""
        m = len(self.activations)
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0).view(m, 1)
        for p in self.params:
            p.grad.view(m, -1).mul_(scale)

    def per_model(self, tensors: Sequence[torch.Tensor], i: int) -> list[torch.Tensor]:
        """Model ``i``'s slice of tensors laid out like ``params`` (its weights or gradients), as ``nn.Linear`` holds them."""
        m, layers = len(self.activations), len(self.layers)
        out = []
        for k, t in enumerate(tensors):
            if k == 0:  # layer 1's weight, the models one below the other
                out.append(t.view(m, -1, t.shape[1])[i])
            elif k == layers:  # layer 1's bias
                out.append(t.view(m, -1)[i])
            else:  # [M, in, out] weights, [M, 1, out] biases
                out.append(t[i].t() if k < layers else t[i, 0])
        return out

    def to_mlps(self) -> list[MLP]:
        """Separate ordinary MLPs holding the current weights (for inspection after training)."""
        mlps = []
        for i, name in enumerate(self.activations):
            mlp = MLP(name, hidden=self.hidden).to(self.weights[0].device)
            with torch.no_grad():
                for p, q in zip(linear_params(mlp), self.per_model(self.params, i)):
                    p.copy_(q)
            mlps.append(mlp)
        return mlps


def linear_params(mlp: MLP) -> list[torch.Tensor]:
    """An MLP's parameters in ``StackedMLP.params`` order: every layer's weight, then every layer's bias."""
    layers = mlp.linears()
    return [layer.weight for layer in layers] + [layer.bias for layer in layers]


# ----------------------------------------------------------------------------- threads on a shared CPU

THREADS_VARIABLE = "LAB_THREADS"  # e.g. 1: train with exactly that many CPU threads, no measuring
WINDOW = 25  # steps timed together (about 40 ms on a quiet 2-core CPU)
FIRST_TRY, LAST_TRY = 2 * WINDOW, 128 * WINDOW  # steps to the next try of another count; x4 after each lost try
SLOWER = 1.3  # a window this much slower than the best seen on its count means the cores are busy


class ThreadChooser:
    """Keeps CPU training on the fastest of PyTorch's thread counts (its default, halved down to 1) as the load changes.

    A step is a few milliseconds of work split across threads that meet at the end of every operation.
    On a quiet machine more threads are faster; when other programs hold the cores (a browser, a video
    call, Colab's two vCPUs on one core), a thread that lost its core keeps the others waiting, and a
    step can take 100 times longer, while one thread just runs.  So steps are timed in windows of
    ``WINDOW``.  A window ``SLOWER`` than the best seen on its count is a busy machine: the next window
    tries fewer threads.  On fewer threads, more are tried now and then.  A try moves training if its
    window was 10 % faster; it is stopped as soon as it is slower than the window before it, and the next
    try waits four times longer.  A run starts on one thread unless an earlier run in this process chose
    otherwise (``memory``): on a busy machine many threads cost far more than one thread costs on a quiet one.

    Only the speed changes: it is used only when ``same_numbers_on_all_counts`` found every count giving
    bit-identical numbers.  ``LAB_THREADS=n`` (or ``OMP_NUM_THREADS``) fixes the count.
    """

    memory: dict[tuple, dict] = {}  # per kind of run, this process: best window seconds per count, last choice

    def __init__(self, counts: Sequence[int], kind: tuple = (), clock: Callable[[], float] = time.perf_counter,
                 record: bool = True) -> None:
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
        self.note = ""  # why the count is fixed where the chooser would choose (set by ``thread_chooser``)

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
        self.trying = self.counts[i + 1] if busy and i + 1 < len(self.counts) else self.counts[max(i - 1, 0)]
        if self.trying == self.current:
            self.trying = None
        else:
            torch.set_num_threads(self.trying)

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
    chooser = ThreadChooser(counts, kind=(tuple(model.activations), model.hidden, batch_size),
                            record=device.type == "cpu")
    chooser.note = note
    return chooser


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
    fixed = os.environ.get(THREADS_VARIABLE, "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise ValueError(f"{THREADS_VARIABLE} must be a whole number of threads, 1 or more, got {fixed!r}.")
        return [int(fixed)]
    top = torch.get_num_threads()
    if device.type != "cpu" or os.environ.get("OMP_NUM_THREADS", "").strip() or top == 1:
        return [top]
    counts = [top]
    while counts[-1] > 1:
        counts.append(counts[-1] // 2)
    return counts


@lru_cache(maxsize=16)
def same_numbers_on_all_counts(counts: tuple[int, ...], hidden: tuple[int, ...], models: int,
                               batches: tuple[int, ...], test_rows: int) -> bool:
    """Does one training step (and the test-set forward pass) give bit-identical numbers on every thread count?

    Matrix products can split their work differently across threads; where that changes the rounding,
    moving between counts would make reruns differ, so ``ThreadChooser`` is then not used.
    """
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
