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
    (["--epochs", "2", "--epochs", "3"], "--epochs: given twice"),
    (["--device", "meta"], "--device: device must be cpu, cuda or mps"),
    (["--device", "xla"], "--device: device must be cpu, cuda or mps"),
    (["--seed", str(2 ** 64)], "seed must be a whole number from 0 to"),
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


# ----------------------------------------------------------------------------- in-process, on small noise data

from conftest import permissions_apply  # noqa: E402
from helpers._machinery import compare, files  # noqa: E402
from helpers.train import train_together  # noqa: E402


def test_a_blow_up_without_nan_is_shown_in_the_table_and_said(on_noise, tmp_path, capsys):
    code = compare.main(["--activations", "ReLU", "Tanh", "--lr", "10", "--optimizer", "sgd", "--epochs", "2",
                         "--out", str(tmp_path / "out"), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0
    relu_row = next(line for line in out.splitlines() if line.startswith("ReLU"))
    assert relu_row.rstrip().endswith("unstable (see below)")
    assert "warning: The ReLU run blew up" in err and "Lower the learning rate" in err
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["runs"]["ReLU"]["warnings"] and "blew up" in saved["runs"]["ReLU"]["warnings"][0]


def test_out_below_a_file_is_refused_before_training(no_training, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SystemExit) as info:
        compare.main(["--out", str(tmp_path / "f" / "results")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1 and "argument --out: cannot write into" in lines[0]


@pytest.mark.skipif(not permissions_apply(), reason="file permissions do not apply to this user (root)")
def test_read_only_out_is_refused_before_training(no_training, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(SystemExit) as info:
            compare.main(["--out", str(folder)])
    finally:
        folder.chmod(0o755)
    assert info.value.code == 2 and "Permission denied" in capsys.readouterr().err
    assert list(folder.iterdir()) == []  # the test file was removed


def _earlier_run(out: Path) -> None:
    out.mkdir()
    (out / "results.json").write_text('{"earlier": true}')
    (out / "comparison.png").write_bytes(b"earlier png")


def test_a_disk_that_fills_while_writing_leaves_the_earlier_pair_as_it_was(on_noise, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _earlier_run(out)
    real = files.write_temporary

    def disk_full_at_the_png(path, data):
        if Path(path).name == "comparison.png":
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(files, "write_temporary", disk_full_at_the_png)
    code = compare.main(["--activations", "ReLU", "--epochs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "as they were" in err
    assert (out / "results.json").read_text() == '{"earlier": true}'  # no new results beside the old figure
    assert sorted(p.name for p in out.iterdir()) == ["comparison.png", "results.json"]  # no temporary file


def test_when_the_second_file_cannot_be_replaced_the_stale_one_is_named(on_noise, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _earlier_run(out)
    real = files.os.replace

    def refuse_the_png(src, dst):
        if str(src).endswith(".part") and str(dst).endswith("comparison.png"):
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", refuse_the_png)
    code = compare.main(["--activations", "ReLU", "--epochs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "comparison.png.stale" in err and "earlier run" in err
    assert json.loads((out / "results.json").read_text())["config"]["epochs"] == 1  # this run's
    assert (out / "comparison.png.stale").read_bytes() == b"earlier png" and not (out / "comparison.png").exists()
    assert sorted(p.name for p in out.iterdir()) == ["comparison.png.stale", "results.json"]


@pytest.mark.parametrize("runs", [None, "some"])
def test_ctrl_c_says_what_a_terminal_user_should_do(runs, tmp_path, monkeypatch, capsys):
    from helpers.history import History, TrainingInterrupted

    def interrupted(*args, **kwargs):
        if runs is None:
            raise KeyboardInterrupt
        raise TrainingInterrupted("... run the cell again ...", {"ReLU": History("ReLU", {}, loss=[2.3] * 7)})

    monkeypatch.setattr(compare, "train_together", interrupted)
    assert compare.main(["--out", str(tmp_path / "out"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "cell" not in err and "run the command again" in err and "Traceback" not in err
    assert ("after 0 full epoch(s) and 7 iterations" in err) == (runs is not None)
