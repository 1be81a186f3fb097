"""Notebook hygiene: clean, valid, badge and setup cell in place, viva texts in sync, claims asserted."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers import viva
from helpers.project import colab_badge, setup_cell

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
def test_colab_badge_and_setup_cell(path):
    assert colab_badge(path.name) in cells(path, "markdown")[0]
    assert cells(path, "code")[0] == setup_cell()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_static_viva_text_matches_the_question_file(path):
    assert viva.check_notebook_static(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_checks_its_claims(path):
    code = "\n".join(cells(path, "code"))
    assert len(re.findall(r"^\s*assert ", code, flags=re.M)) >= 3


def test_all_ten_practical_viva_questions_are_asked_and_shown():
    asked, shown = set(), set()
    for path in NOTEBOOKS:
        for source in cells(path, "code"):
            for group in re.findall(r"viva\.ask\(\[([^\]]*)\]", source):
                asked.update(re.findall(r'"([^"]+)"', group))
        for source in cells(path, "markdown"):
            match = re.match(r"<!-- viva: ([^>]*) -->", source)
            if match:
                shown.update(match.group(1).split())
    assert set(PRACTICAL_VIVA) <= asked and set(PRACTICAL_VIVA) <= shown
    assert asked == shown  # every interactive question also reads on GitHub, and the reverse


MAX_CELLS = 35


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_function_defined_in_a_notebook_and_at_most_35_cells(path):
    """Machinery lives in helpers/, so a notebook reads as a story; one story per notebook keeps it short."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert len(nb["cells"]) <= MAX_CELLS, f"{path.name} has {len(nb['cells'])} cells (at most {MAX_CELLS})"
    for source in cells(path, "code"):
        found = re.search(r"^(async\s+)?def\s+\w+", source, flags=re.M)
        assert found is None, f"{path.name} defines {found.group(0)!r}: move it into helpers/"
