"""The headless comparison command: its files on a real run, and its one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "helpers.compare", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_one_epoch_on_full_mnist_writes_both_files(tmp_path):
    done = run_cli("--epochs", "1", "--out", str(tmp_path / "out"), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "activation" in done.stdout and "ReLU" in done.stdout
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["config"]["epochs"] == 1 and result["config"]["batch_size"] == 64
    assert result["config"]["lr"] == 0.001 and result["config"]["optimizer"] == "adam"
    assert set(result["runs"]) == {"Sigmoid", "Tanh", "ReLU"}
    for run in result["runs"].values():
        assert len(run["loss"]) == len(run["grad_norm"]) == 938
        assert len(run["train_acc"]) == len(run["test_acc"]) == 1
        assert run["test_acc"][0] > 0.9 and run["seconds"] > 0
    png = (tmp_path / "out" / "comparison.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["comparison.png", "results.json"]


@pytest.mark.parametrize("args, message", [
    (["--activations", "Swish"], "Unknown activation 'Swish'"),
    (["--epochs", "0"], "epochs must be a whole number >= 1, got 0"),
    (["--epochs", "two"], "--epochs: invalid int value: 'two'"),
    (["--batch-size", "0"], "batch_size must be a whole number from 1 to 60000, got 0"),
    (["--batch-size", "60001"], "batch_size must be a whole number from 1 to 60000"),
    (["--lr", "-1"], r"lr must be a number in \(0, 10\], got -1"),
    (["--optimizer", "rmsprop"], "invalid choice"),
    (["--device", "cuda"], "--device"),
    (["--activations", "ReLU", "relu"], "only once"),
])
def test_bad_flags_exit_nonzero_with_one_line(args, message):
    if "cuda" in args:
        import torch
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    done = run_cli(*args, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m helpers.compare: error:")
    import re
    assert re.search(message, lines[0]), lines[0]


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    done = run_cli("--out", str(tmp_path / "f"), timeout=120)
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr
