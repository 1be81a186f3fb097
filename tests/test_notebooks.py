"""Notebook hygiene: clean, valid, generated parts up to date (tools.notebooks), viva appendix complete."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers import exercises, viva
from tools import notebooks as authoring

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
PRACTICAL_VIVA = ["role", "why-nonlinear", "sigmoid-vs-relu", "vanishing", "exploding", "relu-vanishing",
                  "relu-disadvantage", "zero-centred", "ranges", "best"]


def cells(path: Path, kind: str) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def test_the_series_is_there():
    names = [p.name[:2] for p in NOTEBOOKS]
    assert names[:4] == ["01", "02", "03", "04"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_and_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"  # no "Select Kernel" dialog
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"stale output in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_generated_parts_are_up_to_date(path):
    """Badge, setup cell and viva appendix as `python -m tools.notebooks --sync` writes them."""
    assert authoring.check_notebook(path) == [], f"run: python -m tools.notebooks --sync notebooks/{path.name}"
    assert authoring.colab_badge(path.name) in cells(path, "markdown")[0]
    assert cells(path, "code")[0] == authoring.setup_cell()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_checks_its_claims(path):
    """Checks are asserts (what must hold whatever the settings) or claim(...) (what the text says of the run)."""
    code = "\n".join(cells(path, "code"))
    assert len(re.findall(r"^\s*(assert |claim\()", code, flags=re.M)) >= 3


def asked(path: Path) -> list[str]:
    """The question ids of every viva.ask([...]) call in a notebook, in order of appearance."""
    ids: list[str] = []
    for source in cells(path, "code"):
        for group in re.findall(r"viva\.ask\(\[([^\]]*)\]", source):
            ids += [i for i in re.findall(r'"([^"]+)"', group) if i not in ids]
    return ids


def appendix_questions(path: Path) -> list[str]:
    """The questions the notebook's appendix (its last cell) shows, each followed by a model answer."""
    last = json.loads(path.read_text(encoding="utf-8"))["cells"][-1]
    source = "".join(last["source"])
    if last["cell_type"] != "markdown" or not source.startswith("<!-- viva-appendix -->"):
        return []
    return re.findall(r"^\*\*(.+)\*\*\n\n<details><summary>Model answer</summary>\n", source, flags=re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_appendix_lists_exactly_the_questions_asked(path):
    ids = asked(path)
    assert appendix_questions(path) == [viva.question(i)["question"] for i in ids]
    assert not any(s.lstrip().startswith("<!-- viva:") for s in cells(path, "markdown"))  # no answer beside a question


def test_all_ten_practical_viva_questions_are_asked_and_shown():
    asked_ids = [i for path in NOTEBOOKS for i in asked(path)]
    shown = [q for path in NOTEBOOKS for q in appendix_questions(path)]
    assert set(PRACTICAL_VIVA) <= set(asked_ids)
    assert shown == [viva.question(i)["question"] for i in asked_ids]  # each asked question reads on GitHub too


MAX_CELLS = 36  # "about 35": one lab session each


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_function_defined_in_a_notebook(path):
    """Machinery lives in helpers/, so a notebook reads as a story.  The one exception: a "Your turn" cell
    (first line ``# Your turn: <name>``) defines the functions of that registered exercise of this notebook."""
    for source in cells(path, "code"):
        turn = re.fullmatch(r"# Your turn: (\w+)\s*", source.split("\n", 1)[0])
        exercise = exercises.EXERCISES.get(turn.group(1)) if turn else None
        if turn:
            assert exercise is not None, f"{path.name}: {turn.group(1)!r} is not a registered exercise"
            assert exercise.notebook == path.name[:2], f"{path.name}: exercise {exercise.name!r} belongs to {exercise.notebook}"
        for found in re.finditer(r"^(async\s+)?(def|class)\s+(\w+)", source, flags=re.M):
            allowed = exercise is not None and found.group(2) == "def" and found.group(3) in exercise.functions
            assert allowed, f"{path.name} defines {found.group(0)!r}: move it into helpers/"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] in ("05", "06")], ids=lambda p: p.name)
def test_gradient_flow_notebooks_fit_one_sitting(path):
    """The gradient-flow story is two notebooks of one lab session each (the old 05 had 60 cells)."""
    cells_in = len(json.loads(path.read_text(encoding="utf-8"))["cells"])
    assert cells_in <= MAX_CELLS, f"{path.name} has {cells_in} cells (at most {MAX_CELLS})"
