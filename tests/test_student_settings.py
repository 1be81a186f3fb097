"""A student changes a setting (fewer epochs, another activation, another seed): the notebooks still run to the end.

Claims that do not hold for those settings show a note in place instead of stopping the notebook; in the test
run proper (``LAB_STRICT_CLAIMS=1``, set in conftest.py) the same claims are strict.
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTE = "in your run this does not hold"
EDITS = {  # what a student might change, as they would type it
    "03_live_training.ipynb": [('ACTIVATION = "ReLU"', 'ACTIVATION = "tanh"'),
                               ("config = TrainConfig()", "config = TrainConfig(epochs=1, seed=3)")],
    "04_comparison.ipynb": [("config = TrainConfig()", "config = TrainConfig(epochs=1, seed=3)")],
    "05_where_gradients_vanish.ipynb": [("SEED = 0", "SEED = 3")],
    "06_what_fixes_it.ipynb": [("SEED = 0", "SEED = 3")],
}


def run_with(name: str, edits: list[tuple[str, str]], workdir: Path) -> list[str]:
    """Execute the notebook after the edits, claims not strict; return every text output."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for old, new in edits:
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1, f"{name}: the setting {old!r} is not in exactly one code cell"
        hits[0].source = hits[0].source.replace(old, new)
    env = {"LAB_STRICT_CLAIMS": "0", "LAB_ANSWERS": str(workdir / "answers.json"), "LAB_CACHE_DIR": str(workdir / "c")}
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    finally:
        for k, v in old_env.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{name}: {out.get('ename')}: {out.get('evalue')}"
            texts.append(out.get("text") or out.get("data", {}).get("text/markdown", ""))
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EDITS))
def test_notebook_runs_to_the_end_with_a_students_settings(name, tmp_path):
    texts = run_with(name, EDITS[name], tmp_path)
    if name.startswith("03"):  # one epoch: "the later epochs still lowered the loss" cannot hold, and says so
        assert any(NOTE in t for t in texts)
