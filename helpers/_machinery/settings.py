"""Checking a ``TrainConfig``: every setting refused with one message that says what is allowed.

Machinery: ``helpers/train.py``'s ``TrainConfig`` calls ``check`` when it is made.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable

from ..model import INITS

OPTIMIZERS = ("adam", "sgd")
MAX_SEED = 2 ** 63 - 1  # torch.Generator.manual_seed takes at most 64 bits
MAX_EPOCHS = 1000  # 1000 epochs of the full MNIST take over a day on a laptop CPU
MAX_UNITS, MAX_LAYERS = 65_536, 1000  # per hidden layer; hidden layers
MAX_PARAMETERS = 100_000_000  # per network: with gradients and Adam's two moments, 16 bytes each (1.6 GB)
BYTES_PER_PARAMETER = 16  # float32 weight, gradient, Adam's two moments
WHOLE = ("epochs", "batch_size", "train_size", "diagnostics_every")  # stored as plain ints (a NumPy integer is accepted)
NUMBERS = ("lr", "momentum", "init_gain", "clip_grad_norm")  # stored as plain floats if given as NumPy numbers


def check(config) -> None:
    """Normalise the whole-number and numeric settings on the (frozen) config; a ValueError naming every bad one."""
    problems, plain = [], {}
    hidden = layer_sizes(config.hidden)
    if hidden is None:
        problems.append(f"hidden must be a tuple of layer sizes, e.g. (256, 128), got {config.hidden!r}")
    seed = whole(config.seed)
    if seed is None or not 0 <= seed <= MAX_SEED:
        problems.append(f"seed must be a whole number from 0 to 2**63 - 1, got {config.seed!r}")
    for name in WHOLE:
        plain[name] = whole(getattr(config, name))
    for name in NUMBERS:
        value = getattr(config, name)
        plain[name] = _plain_number(value)
        if value is not None and plain[name] is None:
            problems.append(f"{name} must be a number (not {type(value).__name__}), got {value!r}")
    epochs, batch_size, train_size = plain["epochs"], plain["batch_size"], plain["train_size"]
    if epochs is None or epochs < 1:
        problems.append(f"epochs must be a whole number >= 1, got {config.epochs!r}")
    elif epochs > MAX_EPOCHS:
        problems.append(f"epochs must be at most {MAX_EPOCHS} ({MAX_EPOCHS} epochs of the full MNIST take over a "
                        f"day on a laptop CPU), got {config.epochs!r}")
    if batch_size is None or not 1 <= batch_size <= 60000:
        problems.append(f"batch_size must be a whole number from 1 to 60000, got {config.batch_size!r}")
    lr = plain["lr"]
    if lr is not None and (not 0 < lr <= 10 or math.isnan(lr)):
        problems.append(f"lr must be a number in (0, 10], got {config.lr!r}")
    if config.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}")
    if plain["momentum"] is not None and not 0 <= plain["momentum"] < 1:
        problems.append(f"momentum must be in [0, 1), got {config.momentum!r}")
    if config.init not in INITS:
        problems.append(f"init must be one of {', '.join(INITS)}, got {config.init!r}")
    if plain["init_gain"] is not None and not plain["init_gain"] > 0:
        problems.append(f"init_gain must be a number > 0, got {config.init_gain!r}")
    if hidden is not None:
        problems += _size_problems(hidden)
    if plain["clip_grad_norm"] is not None and not plain["clip_grad_norm"] > 0:
        problems.append(f"clip_grad_norm must be > 0 or None, got {config.clip_grad_norm!r}")
    if config.train_size is not None and (train_size is None or train_size < 1):
        problems.append(f"train_size must be a whole number >= 1 or None, got {config.train_size!r}")
    if plain["diagnostics_every"] is None or plain["diagnostics_every"] < 0:
        problems.append(f"diagnostics_every must be a whole number >= 0 (0: none), got {config.diagnostics_every!r}")
    if problems:
        raise ValueError("; ".join(problems) + ".")
    for name, value in {"hidden": hidden, "seed": seed, **plain}.items():
        object.__setattr__(config, name, value)


def _size_problems(hidden: tuple[int, ...]) -> list[str]:
    """What is wrong with the layer sizes: none, a size < 1, too wide, too deep, too many weights to fit in memory."""
    if not hidden or min(hidden) < 1:
        return [f"hidden must list one or more positive layer sizes, got {hidden!r}"]
    sizes = (784, *hidden, 10)
    weights = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    need = f"{weights:,} weights per network, which with their gradients and Adam's state need about " \
           f"{weights * BYTES_PER_PARAMETER / 1e9:,.1f} GB of memory"
    if max(hidden) > MAX_UNITS:
        return [f"each hidden layer may have at most {MAX_UNITS:,} units, got {max(hidden):,} in hidden={hidden!r} "
                f"({need})"]
    if len(hidden) > MAX_LAYERS:
        return [f"hidden may have at most {MAX_LAYERS} layers, got {len(hidden)}"]
    if weights > MAX_PARAMETERS:
        return [f"hidden={hidden!r} gives {need}; at most {MAX_PARAMETERS:,} weights (about "
                f"{MAX_PARAMETERS * BYTES_PER_PARAMETER / 1e9:.1f} GB) are allowed"]
    return []


def _plain_number(value: object) -> int | float | None:
    """``value`` if it is an int or float, a NumPy number as a float; None for a bool, a string, anything else."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    return value if type(value) in (int, float) else float(value)


def whole(value: object) -> int | None:
    """``value`` as a Python int if it is a whole number (an int, a NumPy integer; not a bool or a float), else None."""
    try:
        return None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        return None


def layer_sizes(value: object) -> tuple[int, ...] | None:
    """``hidden`` as a tuple of ints, or None if it is not a sequence of whole numbers (5, "256", (256, 1.5))."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return None
    sizes = tuple(whole(h) for h in value)
    return None if None in sizes else sizes  # type: ignore[return-value]
