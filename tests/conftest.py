"""Shared test setup: the repository root on sys.path, and small data the tests make themselves."""

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helpers.data import MNISTTensors  # noqa: E402


def random_batch(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n random 'images' [n, 784] and labels [n]: enough to compare two computations of one step."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """32 random images and labels."""
    return random_batch(32)


def noise_data(n_train: int = 640, n_test: int = 200, seed: int = 123) -> MNISTTensors:
    """Random 'images' with random labels, shaped like MNIST: fast engine tests."""
    g = torch.Generator().manual_seed(seed)
    return MNISTTensors(torch.randn(n_train, 784, generator=g), torch.randint(0, 10, (n_train,), generator=g),
                        torch.randn(n_test, 784, generator=g), torch.randint(0, 10, (n_test,), generator=g))


@pytest.fixture
def tiny_data() -> MNISTTensors:
    """640 training and 200 test images of noise."""
    return noise_data()


def permissions_apply() -> bool:
    """Whether this process is refused by file permissions (False for root with CAP_DAC_OVERRIDE, or on Windows).

    Tests of read-only folders skip when this is False; as root, run them under
    ``setpriv --bounding-set=-dac_override,-dac_read_search`` (or as another user) to see them run.
    """
    import os
    import stat
    import tempfile

    if os.name != "posix":
        return False
    with tempfile.TemporaryDirectory() as folder:
        locked_folder = Path(folder) / "ro"
        locked_folder.mkdir()
        locked_folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            (locked_folder / "probe").write_text("x")
        except PermissionError:
            return True
        finally:
            locked_folder.chmod(stat.S_IRWXU)
        return False


# ----------------------------------------------------------------------------- shared by several test files


@pytest.fixture
def student_session(tmp_path, monkeypatch):
    """A fresh working folder, answers file and session (no measurement shown, no prediction committed)."""
    from helpers._machinery import checking
    from helpers._machinery.answers import ANSWERS_VARIABLE

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ANSWERS_VARIABLE, str(tmp_path / "answers.json"))
    monkeypatch.setattr(checking, "_MEASURED", set())
    monkeypatch.setattr(checking, "_COMMITTED", {})


@pytest.fixture
def on_noise(monkeypatch):
    """The command line trains on 640 noise images instead of MNIST (seconds, not minutes)."""
    from helpers._machinery import compare
    from helpers.train import train_together

    monkeypatch.setattr(compare, "train_together", lambda names, config, **kw: train_together(
        names, config, data=noise_data(), **kw))


@pytest.fixture
def no_training(monkeypatch):
    """The command line must stop before training."""
    from helpers._machinery import compare

    monkeypatch.setattr(compare, "train_together", lambda *a, **k: pytest.fail("it trained before checking its settings"))
