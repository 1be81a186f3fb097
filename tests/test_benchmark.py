"""The speed benchmark runs end to end (quick setting) and reports what it promises."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmark_reports_whole_process_and_training_times_contention_and_memory(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--epochs", "1", "--pairs", "1",
                           "--competitors", "2", "--json", str(tmp_path / "speed.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    for label in ("(a) practical's script", "(b) lab engine", "(c) (b) + live plot", "(d) 2 busy processes",
                  "speed-up (a)/(b)", "whole process", "live-plot overhead", "peak RSS", "accuracies agree"):
        assert label in done.stdout
    report = json.loads((tmp_path / "speed.json").read_text())
    a, b = report["a"], report["b"]
    assert a["iterations"] == b["iterations"] == {"Sigmoid": 938, "Tanh": 938, "ReLU": 938}
    assert all(acc > 0.85 for acc in a["test_acc"].values())  # the practical's script trained (unseeded)
    assert a["wall_seconds"] > a["seconds_to_figure"] > a["train_seconds"] > 0
    assert b["wall_seconds"] > b["train_seconds"] > 0 and len(b["runs_wall_seconds"]) == 4  # around (a), (c), (d)
    assert report["ratio"] > 1.5 and report["ratio_training"] > 2  # the full setting is where the targets apply
    assert sum(b["threads"].values()) == 938
    (d,) = report["d"]
    assert d["competitors"] == 2 and sum(d["threads"].values()) == 938 and d["slowdown"] > 0
    assert b["peak_rss_mb"] < 1536
    assert report["c"]["plot_updates"] >= 1
