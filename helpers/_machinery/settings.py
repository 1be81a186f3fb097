"""Checking a ``TrainConfig``: every setting refused with one message that says what is allowed.

Machinery: ``helpers/train.py``'s ``TrainConfig`` calls ``check`` when it is made.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable

from ..model import INITS

OPTIMIZERS = ("adam", "sgd")
MAX_SEED = 2 ** 63 - 1  # torch.Generator.manual_seed takes at most 64 bits


def check(config) -> None:
    """Normalise ``hidden`` and ``seed`` on the (frozen) config; a ValueError naming every bad setting."""
    problems = []
    hidden = layer_sizes(config.hidden)
    if hidden is None:
        problems.append(f"hidden must be a tuple of layer sizes, e.g. (256, 128), got {config.hidden!r}")
    seed = whole(config.seed)
    if seed is None or not 0 <= seed <= MAX_SEED:
        problems.append(f"seed must be a whole number from 0 to 2**63 - 1, got {config.seed!r}")
    if not _is_int(config.epochs) or config.epochs < 1:
        problems.append(f"epochs must be a whole number >= 1, got {config.epochs!r}")
    if not _is_int(config.batch_size) or not 1 <= config.batch_size <= 60000:
        problems.append(f"batch_size must be a whole number from 1 to 60000, got {config.batch_size!r}")
    if not isinstance(config.lr, (int, float)) or not 0 < config.lr <= 10 or math.isnan(config.lr):
        problems.append(f"lr must be a number in (0, 10], got {config.lr!r}")
    if config.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}")
    if not 0 <= config.momentum < 1:
        problems.append(f"momentum must be in [0, 1), got {config.momentum!r}")
    if config.init not in INITS:
        problems.append(f"init must be one of {', '.join(INITS)}, got {config.init!r}")
    if not isinstance(config.init_gain, (int, float)) or not config.init_gain > 0:
        problems.append(f"init_gain must be a number > 0, got {config.init_gain!r}")
    if hidden is not None and (not hidden or min(hidden) < 1):
        problems.append(f"hidden must list one or more positive layer sizes, got {hidden!r}")
    if config.clip_grad_norm is not None and not config.clip_grad_norm > 0:
        problems.append(f"clip_grad_norm must be > 0 or None, got {config.clip_grad_norm!r}")
    if config.train_size is not None and (not _is_int(config.train_size) or config.train_size < 1):
        problems.append(f"train_size must be a whole number >= 1 or None, got {config.train_size!r}")
    if not _is_int(config.diagnostics_every) or config.diagnostics_every < 0:
        problems.append(f"diagnostics_every must be a whole number >= 0 (0: none), got {config.diagnostics_every!r}")
    if problems:
        raise ValueError("; ".join(problems) + ".")
    object.__setattr__(config, "hidden", hidden)
    object.__setattr__(config, "seed", seed)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
