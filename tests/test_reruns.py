"""Restart-and-run-all twice gives identical numbers in every notebook (on the CPU, same seeds)."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# Installed right after the setup cell: the engine calls it at the end of every training run.
RECORDER = """import hashlib, json
import helpers._machinery.training as _training
RUN_LOG = []
def log_run(runs):
    for h in runs.values():
        numbers = repr((h.loss, h.grad_norm, h.layer_grad_norms, h.train_acc, h.test_acc, h.test_loss))
        RUN_LOG.append({"activation": h.activation, "iterations": len(h.loss), "test_acc": h.test_acc,
                        "config": {k: v for k, v in h.config.items() if k != "device"},
                        "numbers_sha1": hashlib.sha1(numbers.encode()).hexdigest()})
_finish = _training.finish
def _finish_and_log(run):
    log_run(run.runs)
    return _finish(run)
_training.finish = _finish_and_log"""
FINGERPRINT = "print('FINGERPRINT', json.dumps(RUN_LOG, sort_keys=True))"
# Wall-clock times and how often the live figure redrew depend on the machine's load, not the seed.
TIMING = re.compile(r"\d+(\.\d+)?\s?(s|seconds|ms)\b|\d+(\.\d+)?\s?% of the|\| \d+\.\d \|$|\d+ figure updates|\d+ redraws|run \(\d+(\.\d+)?%\)"
                    r"|\([+-]\d+ %; one run each", re.M)  # 05 §5: what recording cost, timed


def execute(path: Path, workdir: Path) -> tuple[list, list[str]]:
    """Run the notebook in a fresh kernel; return (run fingerprints, its text outputs with timings masked)."""
    nb = nbformat.read(path, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(RECORDER))
    nb.cells.append(nbformat.v4.new_code_cell(FINGERPRINT))
    env = {"LAB_ANSWERS": str(workdir / "answers.json"), "LAB_CACHE_DIR": str(workdir / "cache")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    texts, runs = [], None
    for cell in nb.cells:
        stdout = "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stdout")
        if stdout.startswith("FINGERPRINT "):
            runs = json.loads(stdout.split(" ", 1)[1])
            continue
        texts.append(TIMING.sub("<time>", stdout))  # one string per cell: chunking may differ
        for out in cell.get("outputs", []):
            if out.output_type in ("display_data", "execute_result"):
                if "application/vnd.jupyter.widget-view+json" in out.data or "image/png" in out.data:
                    continue  # widgets hold file paths; figures are checked through the numbers
                text = out.data.get("text/markdown") or out.data.get("text/plain", "")
            else:
                continue
            texts.append(TIMING.sub("<time>", text))
    assert runs is not None, "the fingerprint cell did not run"
    return runs, texts


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_two_executions_give_identical_numbers(path, tmp_path):
    first_runs, first_texts = execute(path, tmp_path / "first")
    second_runs, second_texts = execute(path, tmp_path / "second")
    assert first_runs == second_runs
    assert first_texts == second_texts
