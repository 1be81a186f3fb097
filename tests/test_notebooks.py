"""Notebook hygiene: clean, valid, generated parts up to date (tools.notebooks), viva appendix complete."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers import exercises, viva
from tools import lab_plan, notebooks as authoring

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


def test_the_practical_fits_its_lab_session():
    """The lab plan's formula (README, "Lab plan"): the practical at most 150 minutes, none of its notebooks over 50."""
    assert lab_plan.RUN_TIMES.exists(), "run: python -m tools.lab_plan --measure"
    practical = [e for e in lab_plan.plan() if e.session == "the practical"]
    assert [e.notebook[:2] for e in practical] == ["01", "02", "03", "04"]
    assert all(e.run_minutes > 0 for e in practical)
    assert sum(e.minutes for e in practical) <= lab_plan.SESSION_LIMIT, lab_plan.plan_table(practical)
    assert all(e.minutes <= lab_plan.NOTEBOOK_LIMIT for e in practical), lab_plan.plan_table(practical)


def test_the_deep_dive_fits_a_second_session():
    """The deep dive (05-07) is a second lab session of the same length: at most 150 minutes by the same formula."""
    deep = [e for e in lab_plan.plan() if e.session == "the deep dive"]
    assert [e.notebook[:2] for e in deep] == ["05", "06", "07"]
    assert sum(e.minutes for e in deep) <= lab_plan.SESSION_LIMIT, lab_plan.plan_table(deep)


def test_the_readme_and_every_first_cell_state_the_plan():
    estimates = lab_plan.plan()
    readme = lab_plan.README.read_text(encoding="utf-8")
    assert readme == lab_plan.readme_with_plan(readme, estimates), "run: python -m tools.lab_plan --readme"
    for e in estimates:
        first = cells(lab_plan.NOTEBOOKS / e.notebook, "markdown")[0]
        assert lab_plan.plan_line(e, estimates) in first, "run: python -m tools.notebooks --sync"


def test_the_estimate_counts_what_a_student_works_through(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": ["# T\n", "_Lab plan: x y z_"]},
                    {"cell_type": "code", "source": ["setup cell, not counted"]},
                    {"cell_type": "markdown", "source": ["one two three"]},
                    {"cell_type": "code", "source": ['# Your turn: grad_norm\ndef f(): ...\nviva.ask(["a", "b"])']},
                    {"cell_type": "markdown", "source": ["### Optional: six words in this heading"]},
                    {"cell_type": "code", "source": ["# Your turn: collapse\nx"]},
                    {"cell_type": "markdown", "source": ["## Sources\n", "many words here"]}]}
    path = tmp_path / "99_test.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    e = lab_plan.estimate(path, {"99_test.ipynb": 120.0})
    assert (e.prose_words, e.code_words, e.exercises, e.answers, e.optional_exercises) == (5, 9, 1, 2, 1)
    assert e.minutes == pytest.approx(5 / 150 + 9 / 100 + 10 + 6 + 2)
