"""Tests for tools/notebooks.py, the authoring tool: on temporary copies, never on the real notebooks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import viva
from helpers._machinery import questions as bank
from tools import notebooks as authoring

NOTEBOOK = authoring.NOTEBOOKS / "02_data_and_model.ipynb"
STALE_BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
               "(https://colab.research.google.com/github/someone/old-fork/blob/dev/notebooks/05_gradient_flow.ipynb)")


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def sources(nb: dict, kind: str | None = None) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if kind in (None, c["cell_type"])]


@pytest.fixture
def stale(tmp_path) -> Path:
    """A copy of notebook 02 as an old checkout has it: another file's badge, an old setup cell,
    a per-question ``<!-- viva: -->`` cell with the answer (as a list of lines) and no appendix."""
    path = tmp_path / "07_copy.ipynb"
    nb = read(NOTEBOOK)
    nb["cells"] = [c for c in nb["cells"] if not "".join(c["source"]).startswith(authoring.APPENDIX_MARKER)]
    title = nb["cells"][0]
    title["source"] = "\n".join(STALE_BADGE if line.startswith(authoring.BADGE_START) else line
                                for line in "".join(title["source"]).split("\n"))
    nb["cells"][1]["source"] = "# Setup\nimport helpers\n"
    ask = next(i for i, s in enumerate(sources(nb)) if "viva.ask(" in s)
    old = "<!-- viva: normalize -->\n**" + viva.question("normalize")["question"] + "**\n\nold answer"
    nb["cells"].insert(ask + 1, {"cell_type": "markdown", "id": "c02-old", "metadata": {},
                                 "source": old.splitlines(keepends=True)})
    write(path, nb)
    return path


def test_sync_repairs_a_stale_notebook(stale, capsys):
    assert authoring.main(["--check", str(stale)]) == 1
    out = capsys.readouterr().out
    assert "07_copy.ipynb: out of date" in out and "python -m tools.notebooks --sync" in out
    before = stale.read_bytes()
    assert authoring.check_notebook(stale) and stale.read_bytes() == before  # --check writes nothing

    assert authoring.main(["--sync", str(stale)]) == 0
    out = capsys.readouterr().out
    for change in ("badge", "setup cell", "removed 1 per-question viva cell", "added the viva appendix"):
        assert change in out
    assert authoring.main(["--check", str(stale)]) == 0
    after = stale.read_bytes()
    assert authoring.main(["--sync", str(stale)]) == 0 and stale.read_bytes() == after  # nothing left to do
    assert "up to date" in capsys.readouterr().out
    assert sorted(p.name for p in stale.parent.iterdir()) == [stale.name]  # written atomically, no leftovers


def test_synced_notebook_content(stale):
    authoring.sync_notebook(stale)
    nb = nbformat.read(stale, as_version=4)
    nbformat.validate(nb)
    assert authoring.colab_badge("07_copy.ipynb") in nb.cells[0].source and "old-fork" not in nb.cells[0].source
    assert nb.cells[1].source == authoring.setup_cell()
    assert not any(s.startswith("<!-- viva:") for s in sources(read(stale)))
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.id == "c07-viva"
    assert last.source == authoring.viva_appendix(["normalize", "zero-centred"])
    assert sum(s.startswith(authoring.APPENDIX_MARKER) for s in sources(read(stale))) == 1
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert stale.read_text(encoding="utf-8").endswith("}\n")


def test_sync_leaves_everything_else_alone(tmp_path):
    path = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, path)
    assert authoring.sync_notebook(path) == [] and path.read_bytes() == NOTEBOOK.read_bytes()


def test_appendix_text():
    text = authoring.viva_appendix(["role", "best"])
    assert text.startswith(authoring.APPENDIX_MARKER + "\n## Appendix: viva questions and model answers\n")
    assert "GitHub" in text and "HTML export" in text
    assert text.count("<details><summary>Model answer</summary>") == 2 and text.count("</details>") == 2
    assert text.index(viva.question("role")["question"]) < text.index(viva.question("best")["question"])
    assert bank._PENDING in text and "{best}" not in text  # templated: today's "pending" text


def test_appendix_follows_the_questions_asked(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("old setup"),
        nbformat.v4.new_code_cell('from helpers import viva\nviva.ask(["ranges", "role"])'),
        nbformat.v4.new_markdown_cell(authoring.APPENDIX_MARKER + "\nstale"),
        nbformat.v4.new_code_cell("viva.ask(['role', 'clipping'])  # asked twice: listed once"),
    ])
    nbformat.write(nb, path)
    changes = authoring.sync_notebook(path)
    assert "moved the viva appendix to the end" in changes and "updated the viva appendix" in changes
    cells = read(path)["cells"]
    assert "".join(cells[0]["source"]).startswith("# Title\n\n[![Open In Colab]")  # a missing badge is added
    assert "".join(cells[-1]["source"]) == authoring.viva_appendix(["ranges", "role", "clipping"])
    assert authoring.asked_questions(read(path)) == ["ranges", "role", "clipping"]

    cells.insert(2, {**cells[-1], "id": "dup"})  # a second appendix, e.g. from a merge
    write(path, {**read(path), "cells": cells})
    assert authoring.sync_notebook(path) == ["removed 1 duplicate viva appendix cell(s)"]
    assert [c.get("id") for c in read(path)["cells"]] == [c.get("id") for c in cells if c.get("id") != "dup"]

    cells = read(path)["cells"]
    cells[2]["source"] = cells[3]["source"] = "print('no questions any more')"
    write(path, {**read(path), "cells": cells})
    assert authoring.sync_notebook(path) == ["removed the viva appendix (no question is asked)"]
    assert not any(s.startswith(authoring.APPENDIX_MARKER) for s in sources(read(path)))


def test_unknown_question_or_missing_setup_cell_is_reported(tmp_path, capsys):
    bad = tmp_path / "01_bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell(authoring.setup_cell()),
        nbformat.v4.new_code_cell('viva.ask(["bogus"])')]), bad)
    empty = tmp_path / "02_empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T")]), empty)
    before = bad.read_bytes(), empty.read_bytes()
    assert authoring.main(["--sync", str(bad), str(empty)]) == 1
    err = capsys.readouterr().err
    assert "bogus" in err and "no code cell" in err
    assert (bad.read_bytes(), empty.read_bytes()) == before
