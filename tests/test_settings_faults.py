"""Settings and environment faults of the robustness issue: each refused or handled with a message for people.

One test (or parametrized test) per item; the item's number is in the test's name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import permissions_apply
from helpers._machinery import cache, claims, compare, files, mnist_files, training
from helpers._machinery.mnist_files import DataError, ensure_mnist
from helpers.practical import pick_device
from helpers.train import TrainConfig, train_together

BAD_THREADS = ["abc", "0", "-1", "1.5", "1000"]


def _one_line_error(capsys, argv: list[str]) -> str:
    """The CLI's one-line error (exit 2) for ``argv``."""
    with pytest.raises(SystemExit) as info:
        compare.parse_args(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].startswith("python -m helpers.compare: error:")
    return lines[0]


def test_item6_repeated_activations_are_all_trained_once_each(tmp_path):
    args = compare.parse_args(["--activations", "ReLU", "--activations", "Tanh", "relu", "--out", str(tmp_path)])
    assert args.activations == ["ReLU", "Tanh"]
    assert compare.parse_args(["--out", str(tmp_path)]).activations == ["Sigmoid", "Tanh", "ReLU"]


@pytest.mark.parametrize("flag, first, second", [("--epochs", "2", "3"), ("--lr", "0.1", "0.01"),
                                                 ("--out", "a", "b"), ("--device", "cpu", "cpu")])
def test_item6_a_single_value_flag_given_twice_is_an_error(flag, first, second, capsys, tmp_path):
    line = _one_line_error(capsys, [flag, first, flag, second, *(["--out", str(tmp_path)] if flag != "--out" else [])])
    assert f"argument {flag}: given twice" in line and "once" in line


@pytest.mark.parametrize("value, strict", [("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("on", True),
                                           ("0", False), ("false", False), ("No", False), ("OFF", False),
                                           ("", False), (" ", False)])
def test_item8_strict_claims_accepts_the_usual_spellings(value, strict, monkeypatch):
    monkeypatch.setenv(claims.STRICT_VARIABLE, value)
    monkeypatch.delenv(claims.CLAIMS_LOG_VARIABLE, raising=False)
    if strict:
        with pytest.raises(AssertionError, match="Claim does not hold"):
            claims.claim("a claim that is false", False)
    else:
        claims.claim("a claim that is false", False)  # a note (item 24), not an error


@pytest.mark.parametrize("value", ["maybe", "2", "strict", "tru"])
def test_item8_strict_claims_refuses_other_values(value, monkeypatch):
    monkeypatch.setenv(claims.STRICT_VARIABLE, value)
    with pytest.raises(ValueError) as info:
        claims.claim("a claim that holds", True)
    message = str(info.value)
    assert "LAB_STRICT_CLAIMS" in message and repr(value) in message
    assert all(word in message for word in ("1", "true", "yes", "on", "0", "false", "no", "off"))


@pytest.mark.parametrize("bad", BAD_THREADS)
def test_item10_14_bad_lab_threads_is_refused_before_the_data_loads(bad, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LAB_THREADS", bad)
    monkeypatch.setattr(training, "load_mnist", lambda *a, **k: pytest.fail("MNIST loaded before LAB_THREADS was checked"))
    with pytest.raises(ValueError) as info:
        train_together(["ReLU"], epochs=1, progress=False, device="cpu")
    message = str(info.value)
    assert "LAB_THREADS" in message and repr(bad) in message and f"from 1 to {os.cpu_count()}" in message
    line = _one_line_error(capsys, ["--out", str(tmp_path)])  # the command line: before training, too
    assert "LAB_THREADS" in line and repr(bad) in line


@pytest.mark.parametrize("bad", BAD_THREADS)
def test_item10_14_remedies_read_lab_threads_the_same_way(bad, monkeypatch):
    from helpers import remedies

    monkeypatch.setenv("LAB_THREADS", bad)
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match=f"LAB_THREADS must be a whole number of threads from 1 to {os.cpu_count()}"):
        with remedies._few_threads():
            pass
    assert torch.get_num_threads() == before
    monkeypatch.setenv("LAB_THREADS", "1")
    with remedies._few_threads():
        assert torch.get_num_threads() == 1


@pytest.mark.parametrize("settings, words", [
    ({"epochs": 10 ** 9}, ["epochs must be at most 1000", "over a day"]),
    ({"epochs": 1001}, ["epochs must be at most 1000"]),
    ({"hidden": (10 ** 9,)}, ["at most 65,536 units", "GB"]),
    ({"hidden": (60_000, 60_000)}, ["weights per network", "GB", "at most 100,000,000 weights"]),
    ({"hidden": (8,) * 1001}, ["at most 1000 layers"]),
])
def test_item11_16_epochs_and_network_size_have_upper_bounds(settings, words):
    with pytest.raises(ValueError) as info:
        TrainConfig(**settings)
    assert all(word in str(info.value) for word in words), str(info.value)
    TrainConfig(epochs=1000, hidden=(65_536,))  # the bounds themselves are allowed
    TrainConfig(hidden=(128,) * 1000)


def test_item13_a_private_mnist_folder_of_another_user_is_a_data_error(tmp_path, monkeypatch):
    real = Path.is_file

    def private(path: Path) -> bool:
        if "MNIST" in path.parts:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "is_file", private)
    with pytest.raises(DataError) as info:
        ensure_mnist(tmp_path / "root", bundle_dir=tmp_path / "b", files={"fake-idx": (10, "0" * 32)})
    message = str(info.value)
    assert str(tmp_path / "root" / "MNIST" / "raw") in message and "Permission denied" in message
    assert "LAB_DATA_DIR" in message and "chmod" in message


@pytest.mark.skipif(not permissions_apply(), reason="file permissions do not apply to this user (root)")
def test_item13_a_real_0700_folder_is_a_data_error(tmp_path):
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    raw.chmod(0o000)  # as another user's 0700 folder looks to this one
    try:
        with pytest.raises(DataError, match="LAB_DATA_DIR"):
            ensure_mnist(tmp_path / "root", bundle_dir=tmp_path / "b", files={"fake-idx": (10, "0" * 32)})
    finally:
        raw.chmod(0o755)


def _earlier_run(out: Path) -> None:
    out.mkdir()
    (out / "results.json").write_text('{"earlier": true}')
    (out / "comparison.png").write_bytes(b"earlier png")


def _main(argv: list[str]) -> int:
    try:
        return compare.main(argv)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while writing escaped as a traceback")


def test_item15_ctrl_c_while_writing_the_results_is_a_message(on_noise, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _earlier_run(out)

    def interrupted(contents):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "atomic_write_files", interrupted)
    code = _main(["--activations", "ReLU", "--epochs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert "Interrupted (Ctrl-C) while writing" in err and "as they were" in err and "Run the command again" in err
    assert (out / "results.json").read_text() == '{"earlier": true}'
    assert sorted(p.name for p in out.iterdir()) == ["comparison.png", "results.json"]


def test_item15_ctrl_c_between_the_two_files_leaves_no_mismatched_pair(on_noise, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _earlier_run(out)
    real = files.os.replace

    def ctrl_c_at_the_png(src, dst):
        if str(dst).endswith("comparison.png"):
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", ctrl_c_at_the_png)
    code = _main(["--activations", "ReLU", "--epochs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err and "comparison.png.stale" in err
    assert json.loads((out / "results.json").read_text())["config"]["epochs"] == 1  # this run's
    assert sorted(p.name for p in out.iterdir()) == ["comparison.png.stale", "results.json"]  # no .part file


@pytest.mark.parametrize("name", ["momentum", "clip_grad_norm", "lr", "init_gain"])
def test_item17_numeric_settings_must_be_numbers(name):
    with pytest.raises(ValueError, match=f"{name} must be a number"):
        TrainConfig(**{name: "0.9"})
    with pytest.raises(ValueError, match=f"{name} must be a number"):
        TrainConfig(**{name: True})
    config = TrainConfig(**{name: np.float32(0.5)})  # NumPy numbers are numbers
    assert getattr(config, name) == 0.5 and type(getattr(config, name)) is float


def test_item18_an_unwritable_claims_log_warns_once_and_goes_on(tmp_path, monkeypatch):
    log = tmp_path / "a-folder-not-a-file"
    log.mkdir()
    monkeypatch.setenv(claims.CLAIMS_LOG_VARIABLE, str(log))
    monkeypatch.setenv(claims.STRICT_VARIABLE, "1")
    with pytest.warns(UserWarning) as record:
        claims.claim("a claim that holds", True)
        claims.claim("another claim that holds", 1.0, "<", 2.0)
    messages = [str(w.message) for w in record if "LAB_CLAIMS_LOG" in str(w.message)]
    assert len(messages) == 1 and str(log) in messages[0]
    with pytest.raises(AssertionError, match="Claim does not hold"):  # strict claims stay strict
        claims.claim("a claim that is false", False)


def test_item19_results_that_could_not_be_cached_are_not_trained_again(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache, "atomic_write_bytes", refuse)
    calls = []

    def compute():
        calls.append(1)
        return {"accuracy": [0.5, 0.75]}

    key = {"what": "item 19", "folder": str(tmp_path)}
    with pytest.warns(cache.CacheNotSaved, match="kept in memory"):
        first = cache.cached(key, compute, folder=tmp_path)
    second = cache.cached(key, compute, folder=tmp_path)
    assert first == second == {"accuracy": [0.5, 0.75]} and len(calls) == 1 and second is not first
    cache.cached({**key, "other": 1}, compute, folder=tmp_path)  # another key is trained
    cache.cached(key, compute, folder=tmp_path, retrain=True)  # and so is a retrain
    assert len(calls) == 3


@pytest.mark.parametrize("name", ["results.json", "comparison.png"])
def test_item20_a_folder_where_a_result_file_goes_is_refused_before_training(name, no_training, tmp_path, capsys):
    out = tmp_path / "out"
    _earlier_run(out)
    (out / name).unlink()
    (out / name).mkdir()
    with pytest.raises(SystemExit) as info:
        compare.main(["--out", str(out)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1 and f"{out / name} is a folder" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["comparison.png", "results.json"]  # nothing set aside


def test_item21_numpy_whole_numbers_are_whole_numbers():
    config = TrainConfig(epochs=np.int64(2), batch_size=np.int32(32), train_size=np.int64(100))
    assert (config.epochs, config.batch_size, config.train_size) == (2, 32, 100)
    assert all(type(v) is int for v in (config.epochs, config.batch_size, config.train_size))
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        TrainConfig(epochs=2.0)


def test_item22_devices_in_any_case_and_unknown_ones_with_what_this_machine_has(capsys, tmp_path):
    assert pick_device("CPU") == pick_device(" Cpu ") == torch.device("cpu")
    assert compare.parse_args(["--device", "CPU", "--out", str(tmp_path)]).device == "cpu"
    have = "cpu" + (", cuda" if torch.cuda.is_available() else "") + (", mps" if torch.backends.mps.is_available()
                                                                      else "")
    for unknown in ("tpu", "gpu", "xla"):
        with pytest.raises(ValueError, match=f"this machine has: {have}"):
            pick_device(unknown)
    line = _one_line_error(capsys, ["--device", "nonsense", "--out", str(tmp_path)])
    assert f"this machine has: {have}" in line and "'nonsense'" in line and "xpu" not in line
    if not torch.cuda.is_available():
        assert "this machine has: cpu" in _one_line_error(capsys, ["--device", "CUDA", "--out", str(tmp_path)])


def test_item24_a_claim_outside_jupyter_prints_text(monkeypatch, capsys):
    monkeypatch.setenv(claims.STRICT_VARIABLE, "0")
    monkeypatch.delenv(claims.CLAIMS_LOG_VARIABLE, raising=False)
    claims.claim("the loss falls", 3.0, "<", 2.0)
    out = capsys.readouterr().out
    assert out.startswith("Note: in your run this does not hold: the loss falls.") and "object at" not in out


def test_item25_a_notebook_with_broken_json_is_named_with_what_to_do(tmp_path, capsys):
    from tools import notebooks

    broken = tmp_path / "01_broken.ipynb"
    broken.write_text('{"cells": [,]}\n')
    assert notebooks.main(["--check", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "01_broken.ipynb" in err and "not valid JSON" in err and "line 1, column 12" in err
    assert "git checkout --" in err and "Traceback" not in err
