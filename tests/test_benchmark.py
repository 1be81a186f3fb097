"""The speed benchmark runs end to end (quick setting) and reports what it promises."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmark_reports_ratio_overhead_memory_and_matching_accuracy(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--epochs", "1", "--activations", "Sigmoid",
                           "ReLU", "--json", str(tmp_path / "speed.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    for label in ("(a) practical's script", "(b) lab engine", "(c) engine + live plot", "speed-up (a)/(b)",
                  "live-plot overhead", "peak RSS"):
        assert label in done.stdout
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["a"]["iterations"] == report["b"]["iterations"] == {"Sigmoid": 938, "ReLU": 938}
    assert report["accuracies_agree"]
    assert len(report["b"]["runs_seconds"]) == 5  # (b) ran around (a) and around each of the 3 runs of (c)
    assert len(report["c"]["overheads"]) == 3 and report["live_overhead"] == sorted(report["c"]["overheads"])[1]
    assert report["ratio"] > 2  # the full setting (3 x 5 epochs) is where the 10x target applies
    assert report["b"]["peak_rss_mb"] < 1536
    assert report["c"]["plot_updates"] >= 1
