"""What a training run records (notebooks 03-06): ``History``, and the errors a run can end with.

Per iteration the loss and the gradient's L2 norm (over all parameters, and per Linear weight); per epoch the
training accuracy (correct / seen during the epoch) and, beyond the practical, the test accuracy and test loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from torch import nn


@dataclass
class History:
    """Everything one training run measured (notebooks 03-06); lists grow while it trains (live plots read them)."""

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
    threads: dict[str, int] = field(default_factory=dict)  # CPU: iterations run at each thread count
    threads_note: str = ""  # CPU: why the engine could not choose its thread count on this machine
    # TrainConfig(diagnostics_every=k), notebook 05 §5: every k iterations, each Linear weight's update ratio
    # |ΔW| / |W| and each hidden layer's activation histogram and flat share ({} when not asked for)
    diagnostics: dict = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the trained network

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers, without the model (results.json of the command line)."""
        out = asdict(replace(self, model=None))
        out.pop("model")
        return out


@dataclass
class Progress:
    """What a training callback receives (notebook 03's live figure): where training is, and the runs so far."""

    epoch: int
    iteration: int
    total_iterations: int
    runs: dict[str, History]
    epoch_end: bool
    models: Callable[[], dict[str, nn.Module]] | None = None  # copies of the networks as they are now


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite (notebook 06 §2); ``runs`` holds everything recorded before it."""

    def __init__(self, message: str, runs: dict[str, History]):
        super().__init__(message)
        self.runs = runs


class TrainingUnstable(UserWarning):
    """The loss blew up (far above ln 10) or a gradient norm overflowed, but never became NaN (notebook 06 §2)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by the user (■ or Ctrl-C); ``runs`` holds the epochs and iterations done (notebooks 03-06)."""

    def __init__(self, message: str, runs: dict[str, History]):
        super().__init__(message)
        self.runs = runs
