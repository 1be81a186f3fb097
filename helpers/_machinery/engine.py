"""The fast engine behind ``train_together``: what ``loss.backward()`` and ``optimizer.step()`` compute, done faster.

Machinery: you never need to open this file to follow a notebook (``helpers/practical.py`` is the plain loop it
stands for).  Same-shaped MLPs train side by side in one :class:`StackedMLP` (a step's fixed cost paid once), its
backward pass written out, Adam one kernel call; ``tests/test_train.py`` checks each piece against plain PyTorch.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Callable, Sequence

import torch
from torch import nn

from ..activations import DERIVATIVES, make_activation
from ..model import MLP

PUBLIC_ONLY_VARIABLE = "LAB_PUBLIC_TORCH"  # set to 1: never use PyTorch's private kernels below


# ----------------------------------------------------------------------------- the chain rule through an activation

# The fused kernels autograd itself calls: one pass over memory instead of two or three.  Measured (3 activations,
# 1 epoch, 2-core CPU, median of 6 interleaved runs): 2.15 s with them, 2.28 s without (6 %).
_FUSED_CHAIN_RULE: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Sigmoid": lambda upstream, z, a: torch.ops.aten.sigmoid_backward(upstream, a),
    "Tanh": lambda upstream, z, a: torch.ops.aten.tanh_backward(upstream, a),
    "ReLU": lambda upstream, z, a: torch.ops.aten.threshold_backward(upstream, z, 0.0),
}


def activation_backward(name: str, upstream: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """dL/dz = dL/da * f'(z): backpropagation through an activation a = f(z), f' from ``activations.DERIVATIVES``."""
    if name in _FUSED_CHAIN_RULE and "backward" in private_fast_paths():
        return _FUSED_CHAIN_RULE[name](upstream, z, a)
    return upstream * DERIVATIVES[name](z, a)


# ----------------------------------------------------------------------------- Adam in one call

class FusedAdam:
    """Adam as one call of PyTorch's fused kernel per step: the update ``torch.optim.Adam(fused=True)`` makes.

    It skips ``torch.optim.Adam.step``'s 0.3 ms of bookkeeping a call: 2.15 s, not 2.35 s with ``fused=True`` (9 %)."""

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]  # m: running mean of the gradient
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]  # v: running mean of its square
        self.t = torch.zeros((), device=self.params[0].device)  # steps taken; the kernel reads it per parameter

    def step(self) -> None:
        with torch.no_grad():
            self.t += 1
            torch._fused_adam_(self.params, [p.grad for p in self.params], self.exp_avgs, self.exp_avg_sqs, [],
                               [self.t] * len(self.params), lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                               weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False)


def adam(params, lr: float, device: torch.device) -> FusedAdam | torch.optim.Adam:
    """Adam at ``lr``: :class:`FusedAdam` where the private kernel checked out, else ``torch.optim.Adam``."""
    if device.type in ("cpu", "cuda") and "adam" in private_fast_paths():
        return FusedAdam(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, fused=device.type in ("cpu", "cuda"))


# ----------------------------------------------------------------------------- the start-up check

@lru_cache(maxsize=1)
def private_fast_paths() -> frozenset[str]:
    """The private kernels this PyTorch has *and* that compute what their public twins do: "adam", "backward".

    Each is tried once on small tensors, as private signatures can change; ``LAB_PUBLIC_TORCH=1`` turns both off."""
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
    return all(close(_FUSED_CHAIN_RULE[n](upstream, z, a), upstream * DERIVATIVES[n](z, a))
               for n in _FUSED_CHAIN_RULE for a in [make_activation(n)(z)])


def _fused_adam_agrees() -> bool:
    # Against Adam written out (Kingma & Ba, Algorithm 1, as torch.optim.Adam computes it): constructing a
    # torch.optim.Adam imports torch._dynamo, a second of start-up (tests/test_train.py compares the two).
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
    """Several same-shaped MLPs trained in lock-step, their weights stacked side by side (:meth:`to_mlps` splits them).

    A model's loss depends on its own slice of every tensor only, and Adam and SGD work element by element, so one
    step on the stack is exactly one step for each model.  Deeper weights are stored transposed for ``torch.baddbmm``,
    whose gradients then come out contiguous."""

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
        self.kept: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None  # forward_backward(keep=True)

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
    def forward_backward(self, x: torch.Tensor, y: torch.Tensor, keep: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Set each ``.grad`` as ``loss.backward()`` would, without a costlier autograd graph: (logits, losses [M]).

        ``keep``: also keep each hidden layer's activations and pre-activations in ``.kept`` (the diagnostics)."""
        m, batch = len(self.activations), len(x)
        logits, inputs, pre_activations = self._layers_forward(x)
        if keep:
            self.kept = (inputs, pre_activations)
        log_p = torch.log_softmax(logits, dim=-1)
        target = y.expand(m, batch).unsqueeze(-1)
        losses = -log_p.gather(-1, target).squeeze(-1).mean(1)

        # Backward.  For mean cross-entropy, dL/dlogits = (softmax - one_hot(y)) / B.  Gradients go into last
        # step's .grad tensors (out=...): a fresh 2.4 MB block every step fragmented the heap (peak memory +0.4 GB).
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
        """Model ``i``'s slice of tensors laid out like ``params`` (weights, gradients) as ``nn.Linear`` holds them."""
        m, n = len(self.activations), len(self.layers)  # layer 1 holds the models one below the other
        weights = [tensors[0].view(m, -1, tensors[0].shape[1])[i], *(w[i].t() for w in tensors[1:n])]
        biases = [tensors[n].view(m, -1)[i], *(b[i, 0] for b in tensors[n + 1:])]
        return weights + biases

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
