"""Measuring gradient flow (notebook 05): per-layer gradient norms, saturation, dead units, a disk cache.

Every function works on an ordinary :class:`~helpers.model.MLP` (``History.model`` after training,
or ``build_mlp(...)`` for the network at initialisation) and a fixed batch of images.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from pathlib import Path
from statistics import mean
from typing import Any, Callable, Sequence, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .files import atomic_write_bytes
from .model import ACTIVATIONS, DERIVATIVES, MLP
from .train import History

T = TypeVar("T")

# A sigmoid/tanh value counts as *saturated* when its derivative is below this share of the
# derivative's maximum: sigma'(z) < 0.01 * 0.25 for Sigmoid, tanh'(z) < 0.01 * 1 for Tanh.
SATURATION_THRESHOLD = 0.01
SATURATING = ("Sigmoid", "Tanh")
CACHE_VARIABLE = "LAB_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "cache"
CACHE_FORMAT = 1  # bump when what a cache file holds changes: older files are then recomputed
_MAGIC = b"activation-lab-cache\n"


# ----------------------------------------------------------------------------- activations

def _activation_modules(model: MLP) -> list[nn.Module]:
    """The activation modules of an MLP, input side first (one per hidden layer)."""
    kind = type(ACTIVATIONS[model.activation]())
    return [m for m in model.net if isinstance(m, kind)]


@torch.no_grad()
def capture_activations(model: MLP, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every hidden layer's activation for the batch ``x`` ([N, units] each), via forward hooks."""
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _inp, out: outputs.append(out.detach()))
             for m in _activation_modules(model)]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return outputs


def derivative_from_output(activation: str, a: torch.Tensor) -> torch.Tensor:
    """f'(z) written with the output a = f(z): a(1-a) for Sigmoid, 1-a² for Tanh."""
    if activation not in ("Sigmoid", "Tanh"):
        raise ValueError(f"derivative_from_output knows Sigmoid and Tanh, not {activation!r}.")
    return DERIVATIVES[activation](a, a)  # these two need only the output a (the z argument is unused)


def saturated_fraction(activation: str, a: torch.Tensor, threshold: float = SATURATION_THRESHOLD) -> float:
    """Share of the values in ``a`` (outputs of Sigmoid/Tanh) whose derivative is < threshold · its maximum."""
    peak = 0.25 if activation == "Sigmoid" else 1.0
    return (derivative_from_output(activation, a) < threshold * peak).double().mean().item()


def dead_fraction(a: torch.Tensor) -> float:
    """Share of units (columns of ``a`` [N, units], ReLU outputs) that are 0 for every one of the N inputs."""
    return (a <= 0).all(dim=0).double().mean().item()


def saturation_per_layer(model: MLP, x: torch.Tensor, threshold: float = SATURATION_THRESHOLD) -> list[float]:
    """Per hidden layer: the saturated share (Sigmoid/Tanh) or the dead-unit share (ReLU) on the batch ``x``."""
    name = model.activation
    outs = capture_activations(model, x)
    if name in SATURATING:
        return [saturated_fraction(name, a, threshold) for a in outs]
    if name == "ReLU":
        return [dead_fraction(a) for a in outs]
    raise ValueError(f"saturation_per_layer measures Sigmoid, Tanh (saturation) and ReLU (dead units), not {name!r}.")


def activation_variance(model: MLP, x: torch.Tensor) -> list[float]:
    """Per hidden layer: the variance of the activation outputs over the batch and the units."""
    return [a.var().item() for a in capture_activations(model, x)]


# ----------------------------------------------------------------------------- gradients

def layer_grad_norms_at_init(model: MLP, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """L2 norm of each Linear weight's gradient of the mean cross-entropy on (x, y), input side first.

    Uses ``torch.autograd.grad``, so the model's ``.grad`` fields are left untouched.
    """
    weights = [layer.weight for layer in model.linears()]
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, weights)
    return [g.norm().item() for g in grads]


def first_last_ratio(norms: Sequence[float]) -> float:
    """First layer's gradient norm divided by the last layer's (well below 1: vanishing; well above: exploding)."""
    return norms[0] / norms[-1]


def layer_series(history: History) -> list[list[float]]:
    """The per-layer gradient norms of a run as one series per layer (input side first)."""
    return [list(col) for col in zip(*history.layer_grad_norms)]


def history_ratio(history: History, where: str = "start", window: int = 20) -> float:
    """First/last-layer ratio of the mean gradient norms over the first (``"start"``) or last ``window`` iterations."""
    if where not in ("start", "end"):
        raise ValueError(f"where must be 'start' or 'end', got {where!r}.")
    rows = history.layer_grad_norms[:window] if where == "start" else history.layer_grad_norms[-window:]
    if not rows:
        raise ValueError("The history has no recorded iterations.")
    return mean(r[0] for r in rows) / mean(r[-1] for r in rows)


def mean_std(curves: Sequence[Sequence[float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Point-wise mean and standard deviation (n-1) of equally long curves, e.g. one per seed."""
    stacked = torch.tensor([list(c) for c in curves], dtype=torch.float64)
    return stacked.mean(0), stacked.std(0) if len(curves) > 1 else torch.zeros(stacked.shape[1], dtype=torch.float64)


# ----------------------------------------------------------------------------- disk cache

def cache_dir() -> Path:
    """Where cached runs live: ``$LAB_CACHE_DIR`` if set, else ``notebooks/cache`` (git-ignored)."""
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(value).expanduser() if value else DEFAULT_CACHE_DIR


def key_json(key: dict) -> str:
    """The canonical JSON of a cache key (sorted keys, no spaces): what is hashed and stored."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cache keys must be plain JSON (numbers, strings, lists, dicts), got {type(value).__name__}")


def cache_path(key: dict, folder: str | Path | None = None) -> Path:
    """The file that holds the result for ``key``: named by the SHA-256 of its canonical JSON."""
    digest = hashlib.sha256(key_json(key).encode("utf-8")).hexdigest()[:24]
    return Path(folder if folder is not None else cache_dir()) / f"{digest}.pkl"


def _encode(key: dict, value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    header = {"format": CACHE_FORMAT, "key": key_json(key), "length": len(payload),
              "sha256": hashlib.sha256(payload).hexdigest()}
    return _MAGIC + json.dumps(header).encode("utf-8") + b"\n" + payload


def load_cached(key: dict, folder: str | Path | None = None) -> tuple[bool, Any]:
    """(True, value) if a complete, intact file for exactly this key exists; else (False, None)."""
    path = cache_path(key, folder)
    try:
        data = path.read_bytes()
        stream = io.BytesIO(data)
        if stream.readline() != _MAGIC:
            return False, None
        header = json.loads(stream.readline())
        payload = stream.read()
        if (header.get("format") != CACHE_FORMAT or header.get("key") != key_json(key)
                or header.get("length") != len(payload)
                or header.get("sha256") != hashlib.sha256(payload).hexdigest()):
            return False, None
        return True, pickle.loads(payload)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return False, None


def cached(key: dict, compute: Callable[[], T], folder: str | Path | None = None, retrain: bool = False) -> T:
    """``compute()``'s result, from disk when a valid file for exactly ``key`` exists (unless ``retrain``).

    ``key`` must hold the FULL configuration of the computation (plain JSON). The file stores a
    format version, the key and a checksum; a file for another key, an older format, or a partial
    or corrupt file is never used: the result is recomputed and the file rewritten atomically.
    """
    if not retrain:
        found, value = load_cached(key, folder)
        if found:
            return value
    value = compute()
    atomic_write_bytes(cache_path(key, folder), _encode(key, value))
    return value
