"""Measuring gradient flow (notebooks 05 and 06): per-layer gradient norms, saturation, dead units,
a disk cache, and the cached sweeps and try-it panel the two notebooks are built from.

The measuring functions work on an ordinary :class:`~helpers.model.MLP` (``History.model`` after
training, or ``build_mlp(...)`` for the network at initialisation) and a fixed batch of images.
:func:`sweep` trains several activations together, or loads the result from the disk cache when
exactly the same configuration was trained before; ``retrain=True`` trains again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import warnings
from pathlib import Path
from statistics import mean
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .data import MNISTTensors, load_mnist
from .files import atomic_write_bytes
from .model import ACTIVATIONS, DERIVATIVES, INITS, MLP, activation_name, build_mlp
from .plots import figure_png, plot_layer_gradients
from .report import pct
from .train import History, Progress, TrainConfig, TrainingDiverged, TrainingUnstable, pick_device, train_together

if TYPE_CHECKING:  # imported lazily at run time: only the try-it panel needs widgets
    import ipywidgets

T = TypeVar("T")

# A sigmoid/tanh value counts as *saturated* when its derivative is below this share of the
# derivative's maximum: sigma'(z) < 0.01 * 0.25 for Sigmoid, tanh'(z) < 0.01 * 1 for Tanh.
SATURATION_THRESHOLD = 0.01
SATURATING = ("Sigmoid", "Tanh")
CACHE_VARIABLE = "LAB_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "cache"
CACHE_FORMAT = 5  # bump when what a cache file holds, or how it was trained, changes: older files are recomputed
_MAGIC = b"activation-lab-cache\n"
MNIST_DATA = "MNIST, normalized (0.5, 0.5)"  # the data the notebooks train on, as their cache keys name it


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

def layer_grad_norms_at_init(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """L2 norm of each Linear weight's gradient of the mean cross-entropy on (x, y), input side first.

    Any network of Linear layers will do (an MLP, or your own ``nn.Sequential``).  Uses
    ``torch.autograd.grad``, so the model's ``.grad`` fields are left untouched.
    """
    weights = [layer.weight for layer in model.modules() if isinstance(layer, nn.Linear)]
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
    _store(key, value, folder)
    return value


class CacheNotSaved(UserWarning):
    """A result could not be written to the disk cache; it was kept in memory and will be computed again."""


_UNWRITABLE: set[str] = set()  # cache folders already warned about in this session


def _store(key: dict, value: Any, folder: str | Path | None) -> None:
    """Write ``value``'s cache file; if that fails, warn (once per folder) instead: the result is not lost."""
    path = cache_path(key, folder)
    try:
        atomic_write_bytes(path, _encode(key, value))
    except OSError as err:
        if str(path.parent) in _UNWRITABLE:
            return
        _UNWRITABLE.add(str(path.parent))
        reason = f"{path} is a folder" if path.is_dir() else f"{type(err).__name__}: {err.strerror or err}"
        warnings.warn(CacheNotSaved(
            f"The result could not be saved in the cache folder {path.parent} ({reason}). It is kept in memory "
            f"for this session, and will be trained again next time. To keep results, set {CACHE_VARIABLE} to a "
            f"folder you can write to, or make this one writable."), stacklevel=3)


# ----------------------------------------------------------------------------- cached sweeps

def sweep_key(what: str, config: TrainConfig, activations: Sequence[str], *, data_name: str = MNIST_DATA,
              **extra: Any) -> dict:
    """The full configuration of one cached training: what is trained, on which data, with which settings."""
    return {"what": what, "config": {**asdict(config), "hidden": list(config.hidden)},
            "activations": [activation_name(a) for a in activations], "data": data_name, **extra}


def sweep(what: str, activations: Sequence[str], config: TrainConfig, *, data: MNISTTensors | None = None,
          data_name: str = MNIST_DATA, progress: bool = True, retrain: bool = False) -> dict[str, History]:
    """Train several activations together from the same start, or load that result from the disk cache.

    The cache key is :func:`sweep_key`: ``what``, every field of ``config``, the activations and
    ``data_name`` (describe ``data`` there when it is not the notebooks' MNIST). ``retrain=True``
    ignores the cache and trains again.
    """
    key = sweep_key(what, config, activations, data_name=data_name)
    with _unstable_said_once():
        runs = cached(key, lambda: train_together(activations, config, data=data, progress=progress), retrain=retrain)
    return _say_unstable(runs)


@contextlib.contextmanager
def _unstable_said_once() -> Iterator[None]:
    """Hold back ``TrainingUnstable`` while a sweep trains: :func:`_say_unstable` says it, trained or cached."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingUnstable)
        yield


def _say_unstable(runs: dict[str, History]) -> dict[str, History]:
    """Warn about every run that blew up without NaN (``History.warnings``): from the cache too, never silent."""
    for h in runs.values():
        for message in h.warnings:
            warnings.warn(TrainingUnstable(message), stacklevel=3)
    return runs


def sweep_catching(what: str, activations: Sequence[str], config: TrainConfig, *, data: MNISTTensors | None = None,
                   data_name: str = MNIST_DATA, progress: bool = True,
                   retrain: bool = False) -> tuple[dict[str, History], str | None]:
    """:func:`sweep` for a run that may diverge: a divergence is a result too.

    Returns (runs, message): the message of :class:`~helpers.train.TrainingDiverged` and what was
    recorded before the loss became NaN, or (runs, None) when the training finished. Cached like
    :func:`sweep` (the key says that a divergence was caught).
    """
    def compute() -> dict:
        runs, message = _train_or_diverge(activations, config, data, progress)
        return {"diverged": message, "runs": runs}

    key = sweep_key(what, config, activations, data_name=data_name, catching="TrainingDiverged")
    with _unstable_said_once():
        outcome = cached(key, compute, retrain=retrain)
    return _say_unstable(outcome["runs"]), outcome["diverged"]


def saturation_during_training(activations: Sequence[str], config: TrainConfig, *,
                               data: MNISTTensors | None = None, data_name: str = MNIST_DATA,
                               eval_images: int = 1000, progress: bool = True,
                               retrain: bool = False) -> dict[str, list[tuple[int, list[float]]]]:
    """Per activation: (iteration, :func:`saturation_per_layer`) at initialisation and during training.

    Measured on the first ``eval_images`` test images, at iteration 0, every few dozen iterations
    and at the end of every epoch: the engine's callback hands over copies of the networks as they
    are at that moment (``progress.models()``). Cached like :func:`sweep`.
    """
    names = [activation_name(a) for a in activations]
    data = data if data is not None else load_mnist(pick_device(config.device))
    x = data.test_x[:eval_images]

    def compute() -> dict[str, list[tuple[int, list[float]]]]:
        start = {n: build_mlp(n, config.seed, hidden=config.hidden, init=config.init, init_gain=config.init_gain)
                 for n in names}
        curve = {n: [(0, saturation_per_layer(model.to(x.device), x))] for n, model in start.items()}

        def measure(state: Progress) -> None:
            for n, model in state.models().items():
                curve[n].append((state.iteration, saturation_per_layer(model, x)))

        train_together(names, config, data=data, callback=measure, progress=progress)
        return curve

    key = sweep_key("saturation during training", config, names, data_name=data_name,
                    measured_on=f"first {eval_images} test images", threshold=SATURATION_THRESHOLD)
    return cached(key, compute, retrain=retrain)


def separated(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` beats ``b`` on every seed (paired by position), by more than both standard deviations together.

    ``a`` and ``b`` hold one final accuracy per seed; the standard deviations are over the seeds (n - 1).
    """
    if len(a) != len(b) or not len(a):
        raise ValueError(f"separated needs the same seeds for both, got {len(a)} and {len(b)} values.")
    ta, tb = (torch.tensor([float(v) for v in values], dtype=torch.float64) for values in (a, b))
    spread = (ta.std() + tb.std()).item() if len(ta) > 1 else 0.0
    return bool((ta > tb).all()) and ta.mean().item() - tb.mean().item() > spread


# ----------------------------------------------------------------------------- try it yourself

def try_it_panel(data: MNISTTensors, activations: Sequence[str] = tuple(ACTIVATIONS), *, device: str = "cpu",
                 width: int = 64, train_size: int = 3000, run_now: bool = True) -> "ipywidgets.VBox":
    """Sliders and menus (depth, activation, optimizer, init, learning rate) and a **Train** button.

    Each press trains one network for 1 epoch of ``train_size`` images (not cached) and draws its
    per-layer gradient norms; a divergence is shown, not raised. ``run_now`` trains once at once, so
    the figure is there from the start. The returned VBox has ``.status`` and ``.picture`` (the
    widgets showing the result), ``.controls`` (name -> widget) and ``.train()`` (what the button does).
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    controls = {
        "depth": w.IntSlider(value=6, min=1, max=12, description="depth"),
        "activation": w.Dropdown(options=list(activations), value=activations[0], description="activation"),
        "optimizer": w.Dropdown(options=["adam", "sgd"], value="sgd", description="optimizer"),
        "init": w.Dropdown(options=list(INITS), value="default", description="init"),
        "lr": w.FloatLogSlider(value=0.01, base=10, min=-4, max=0, step=0.25, description="learning rate"),
    }
    button = w.Button(description="Train", button_style="primary")
    status, picture = w.HTML(), w.Image(format="png")

    def train(_button: Any = None) -> None:
        c = {k: v.value for k, v in controls.items()}
        status.value = "training…"
        cfg = TrainConfig(hidden=(width,) * c["depth"], optimizer=c["optimizer"], init=c["init"], lr=c["lr"],
                          train_size=train_size, epochs=1, device=device)
        with _unstable_said_once():  # said in the status line: a button's warning would go to the log only
            runs, diverged = _train_or_diverge([c["activation"]], cfg, data, progress=False)
        h = runs[c["activation"]]
        note = _panel_note(h, diverged)
        fig = plot_layer_gradients(h, f"{c['activation']}, depth {c['depth']}, {c['optimizer']}, init {c['init']}, "
                                      f"lr {c['lr']:.2g}: {note}", window=5)
        picture.value = figure_png(fig)
        plt.close(fig)
        ratio = history_ratio(h, "start", window=5) if h.layer_grad_norms else float("nan")
        status.value = f"{note}; first/last-layer ratio at the start: {ratio:.1e}"

    button.on_click(train)
    box = w.VBox([w.HBox([controls["depth"], controls["activation"], controls["optimizer"]]),
                  w.HBox([controls["init"], controls["lr"], button]), status, picture])
    box.status, box.picture, box.controls, box.train = status, picture, controls, train  # plain attributes
    if run_now:
        train()
    return box


def _panel_note(h: History, diverged: str | None) -> str:
    """The try-it panel's verdict on one run: its test accuracy (and a blow-up without NaN), or the divergence."""
    if diverged is not None:
        return "diverged (loss NaN): " + diverged.split(":")[0]
    note = f"test accuracy {pct(h.test_acc[-1])}"
    if h.warnings:
        note += f" — ⚠ the loss blew up to {max(h.loss):.2g} without becoming NaN: lower the learning rate"
    return note


def _train_or_diverge(activations: Sequence[str], config: TrainConfig, data: MNISTTensors | None,
                      progress: bool = True) -> tuple[dict[str, History], str | None]:
    """(runs, None) after a finished training; (what was recorded, the message) after a divergence."""
    try:
        return train_together(activations, config, data=data, progress=progress), None
    except TrainingDiverged as err:
        return err.runs, str(err)
