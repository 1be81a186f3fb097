"""MNIST as the practical loads it (notebook 02): ``ToTensor()`` then ``Normalize((0.5,), (0.5,))``.

``mnist_datasets`` gives torchvision's datasets with the practical's transforms (notebook 03's plain loop uses
them).  For speed the engine holds each split as one normalized tensor (``load_mnist``); ``tests/test_data.py``
proves that tensor equals, bit for bit, what the ``transforms`` pipeline yields.  The files come from the
repository's checksum-verified copy, so this works offline (``helpers/_machinery/mnist_files.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ._machinery.mnist_files import DataError, ensure_mnist, read_idx

MEAN, STD = 0.5, 0.5  # the practical's Normalize((0.5,), (0.5,))


def practical_transform():
    """The practical's per-image pipeline (a torchvision ``Compose``): pixels to [0, 1], then to [-1, 1] (notebook 02)."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])


def mnist_datasets(root: Path | None = None, transform=None) -> tuple:
    """The real torchvision MNIST train and test sets (downloading nothing once data is present) (notebooks 02, 03)."""
    from torchvision import datasets

    root = ensure_mnist(root)
    transform = practical_transform() if transform is None else transform
    return (datasets.MNIST(root, train=True, transform=transform),
            datasets.MNIST(root, train=False, transform=transform))


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [N, 28, 28] -> float32 [N, 784], exactly as ToTensor then Normalize compute it (notebooks 02-06, inside load_mnist)."""
    x = images.reshape(len(images), -1).to(torch.float32).div_(255)  # ToTensor
    return x.sub_(MEAN).div_(STD)  # Normalize (in place, as torchvision does; saves memory)


@dataclass(frozen=True)
class MNISTTensors:
    """Both splits as whole tensors: x float32 [N, 784] normalized, y int64 [N] (notebooks 03-06: what load_mnist returns)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


@lru_cache(maxsize=4)
def _load_tensors(root: str, device: str) -> MNISTTensors:
    raw = Path(root) / "MNIST" / "raw"
    images = {split: normalize(read_idx(raw / f"{split}-images-idx3-ubyte")).to(device) for split in ("train", "t10k")}
    labels = {split: read_idx(raw / f"{split}-labels-idx1-ubyte").long().to(device) for split in ("train", "t10k")}
    return MNISTTensors(images["train"], labels["train"], images["t10k"], labels["t10k"])


def load_mnist(device: str | torch.device = "cpu", root: Path | None = None) -> MNISTTensors:
    """MNIST as normalized tensors on ``device`` (cached per process: notebooks call it often)."""
    root = ensure_mnist(root)
    return _load_tensors(str(root.resolve()), str(torch.device(device)))
