"""The trainings notebooks 04-06 run, cached on disk (``retrain=True`` trains again), and 06's try-it-yourself panel."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ._machinery.cache import cached
from .activations import ACTIVATIONS, activation_name
from .data import MNISTTensors, load_mnist
from .flow import SATURATION_THRESHOLD, history_ratio, saturation_per_layer
from .history import History, Progress, TrainingDiverged, TrainingUnstable
from .model import INITS, build_mlp
from ._machinery.figure_style import figure_png
from .plots import plot_layer_gradients
from .report import pct
from .practical import pick_device
from .train import TrainConfig, train_together

if TYPE_CHECKING:  # imported lazily at run time: only the try-it panel needs widgets
    import ipywidgets

_MNIST_DATA = "MNIST, normalized (0.5, 0.5)"  # the data the notebooks train on, as their cache keys name it


def _sweep_key(what: str, config: TrainConfig, activations: Sequence[str], *, data_name: str = _MNIST_DATA,
              **extra: Any) -> dict:
    """The full configuration of one cached training: what is trained, on which data, with which settings."""
    return {"what": what, "config": {**asdict(config), "hidden": list(config.hidden)},
            "activations": [activation_name(a) for a in activations], "data": data_name, **extra}


def sweep(what: str, activations: Sequence[str], config: TrainConfig, *, data: MNISTTensors | None = None,
          data_name: str = _MNIST_DATA, progress: bool = True, retrain: bool = False) -> dict[str, History]:
    """Train several activations together from the same start, or load that result from the disk cache (notebooks 04, 05, 06).

    The cache key is :func:`_sweep_key`: ``data_name`` must describe ``data`` when it is not the notebooks' MNIST.
    """
    key = _sweep_key(what, config, activations, data_name=data_name)
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
                   data_name: str = _MNIST_DATA, progress: bool = True,
                   retrain: bool = False) -> tuple[dict[str, History], str | None]:
    """:func:`sweep` for a run that may diverge (notebook 06): (runs, None), or what was recorded and the message."""
    def compute() -> dict:
        runs, message = _train_or_diverge(activations, config, data, progress)
        return {"diverged": message, "runs": runs}

    key = _sweep_key(what, config, activations, data_name=data_name, catching="TrainingDiverged")
    with _unstable_said_once():
        outcome = cached(key, compute, retrain=retrain)
    return _say_unstable(outcome["runs"]), outcome["diverged"]


def saturation_during_training(activations: Sequence[str], config: TrainConfig, *,
                               data: MNISTTensors | None = None, data_name: str = _MNIST_DATA,
                               eval_images: int | None = None, progress: bool = True,
                               retrain: bool = False) -> dict[str, list[tuple[int, list[float]]]]:
    """Per activation: (iteration, :func:`saturation_per_layer` over the training images or their first ``eval_images``) (notebook 05)."""
    names = [activation_name(a) for a in activations]
    data = data if data is not None else load_mnist(pick_device(config.device))
    x = data.train_x[:eval_images]

    def compute() -> dict[str, list[tuple[int, list[float]]]]:
        start = {n: build_mlp(n, config.seed, hidden=config.hidden, init=config.init, init_gain=config.init_gain)
                 for n in names}
        curve = {n: [(0, saturation_per_layer(model.to(x.device), x))] for n, model in start.items()}

        def measure(state: Progress) -> None:
            for n, model in state.models().items():
                curve[n].append((state.iteration, saturation_per_layer(model, x)))

        train_together(names, config, data=data, callback=measure, progress=progress)
        return curve

    key = _sweep_key("saturation during training", config, names, data_name=data_name,
                    measured_on=f"first {len(x)} training images", threshold=SATURATION_THRESHOLD)
    return cached(key, compute, retrain=retrain)


# ----------------------------------------------------------------------------- try it yourself

def try_it_panel(data: MNISTTensors, activations: Sequence[str] = tuple(ACTIVATIONS), *, device: str = "cpu",
                 width: int = 64, train_size: int = 3000, run_now: bool = True) -> "ipywidgets.VBox":
    """Sliders and menus (depth, activation, optimizer, init, learning rate) and a **Train** button (notebook 06)."""
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
