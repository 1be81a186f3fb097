"""Authoring tool: writes the generated parts of every notebook, and checks that they are up to date.

    python -m tools.notebooks --sync  [NOTEBOOK ...]   rewrite what is stale, print what changed
    python -m tools.notebooks --check [NOTEBOOK ...]   exit 1 and list the stale notebooks
    python -m tools.notebooks --solutions OUTDIR [NOTEBOOK ...]   instructor copies, exercises solved

Without paths: every ``notebooks/*.ipynb``.  Generated, and nothing else touched:
  (a) the "Open in Colab" badge line in the first markdown cell (it names the notebook's own file), and under it
      the lab plan's line: the notebook's session and estimated time (``tools/lab_plan.py``);
  (b) the setup cell, the first code cell (on Colab it clones REPO_URL, so that URL lives only here);
  (c) the viva appendix, the last cell: every question asked by ``viva.ask([...])`` in the notebook,
      with its model answer in a collapsed block, for readers on GitHub or of an HTML export.
To publish a fork: change REPO_URL (and BRANCH), then run ``--sync``.  Outputs are never written.

``--solutions OUTDIR`` writes a copy of each notebook for instructors: in every "Your turn" cell (first
line ``# Your turn: <exercise>``, see ``helpers/exercises/``) each stub's body is replaced by the body of
the reference solution (the library's function, or ``helpers/solutions.py``), under the stub's own name,
signature and docstring.  The notebooks in ``notebooks/`` are not touched; outputs stay empty.  Put OUTDIR
inside the repository (e.g. ``instructor/``, which git ignores) so the copies find ``helpers``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Sequence

from helpers import activations, exercises, viva
from helpers._machinery import questions as bank
from helpers._machinery.files import atomic_write_text
from tools import lab_plan

REPO_URL = "https://github.com/activation-lab/activation-lab"
BRANCH = "main"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BADGE_START = "[![Open In Colab]"
APPENDIX_MARKER = "<!-- viva-appendix -->"
APPENDIX_TITLE = "## Appendix: viva questions and model answers"
APPENDIX_NOTE = ("_For reading on GitHub or in an HTML export. In Jupyter, answer each question in its widget "
                 "first, then reveal the model answer there._")
OLD_VIVA_CELL = re.compile(r"\A\s*<!--\s*viva:")  # the per-question cells that the appendix replaces
ASK_CALL = re.compile(r"\bviva\.ask\(\s*\[([^\]]*)\]")
ANY_ASK = re.compile(r"\bviva\.ask\(\s*([^\s)][^,)]*)")  # the first argument, whatever it is
QUOTED = re.compile(r"""["']([^"']+)["']""")
YOUR_TURN = re.compile(r"# Your turn: (\w+)\s*")  # the first line of an exercise's stub cell


# ----------------------------------------------------------------------------- generated text

def colab_badge(notebook_name: str) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    path = REPO_URL.removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{notebook_name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


def setup_cell() -> str:
    """The first code cell of every notebook: on Colab, fetch the lab; everywhere, import helpers."""
    return f'''# Setup: on Google Colab, fetch the lab (Colab already has torch, torchvision and ipywidgets:
# nothing is installed). Everywhere: make the shared `helpers` package importable.
import pathlib, subprocess, sys
REPO_URL, BRANCH = "{REPO_URL}", "{BRANCH}"
if "google.colab" in sys.modules and not pathlib.Path("/content/lab/helpers").exists():
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", BRANCH, REPO_URL, "/content/lab"], check=True)
for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents, pathlib.Path("/content/lab")]:
    if (folder / "helpers" / "__init__.py").exists():
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        break
import helpers'''


def asked_questions(nb: dict) -> list[str]:
    """The ids passed to ``viva.ask([...])`` in the notebook's code cells, in order, each once."""
    ids: list[str] = []
    for number, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            source = _source(cell)
            if len(ASK_CALL.findall(source)) != len(ANY_ASK.findall(source)):
                raise ValueError(f"cell {number} ({cell.get('id', 'no id')}) calls viva.ask with something other than "
                                 "a list written out, e.g. viva.ask([\"role\", \"ranges\"]): the viva appendix is "
                                 "made from those ids, so write the list in the call itself")
            for group in ASK_CALL.findall(source):
                ids += [qid for qid in QUOTED.findall(group) if qid not in ids]
    return ids


HAND_IN = ("**Hand in:** your typed answers and exercise results are saved as you go. Notebooks 04 and 07 end with a "
           "button that writes them, with your runs' settings, results and plots, into one HTML lab record; from any "
           "notebook, `viva.export_button()` in a new cell does the same, and so does "
           "`python -m helpers.viva --export my_lab_record.html` in a terminal.")


def viva_appendix(ids: Sequence[str]) -> str:
    """The appendix cell's text: each question in bold, its model answer (pending where templated) below."""
    parts = [APPENDIX_TITLE, APPENDIX_NOTE]
    for qid in ids:
        q = viva.question(qid)
        parts += [f"**{q['question']}**", bank.model_answer_details(q)]
    return APPENDIX_MARKER + "\n" + "\n\n".join(parts + [HAND_IN])


# ----------------------------------------------------------------------------- one notebook

def _source(cell: dict) -> str:
    """A cell's source as one string (notebook files may store it as a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell: dict, text: str) -> None:
    """Replace a cell's source, keeping the file's way of storing it (one string or a list of lines)."""
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text


def _first(nb: dict, kind: str, name: str) -> dict:
    """The first cell of a kind; a notebook without one cannot carry the generated parts."""
    for cell in nb["cells"]:
        if cell["cell_type"] == kind:
            return cell
    raise ValueError(f"{name} has no {kind} cell (it needs a markdown title with the badge and a setup cell)")


def _with_badge(text: str, name: str) -> str:
    """The first markdown cell's text with its badge line for ``name`` (added under the title if missing)."""
    lines = text.split("\n")
    if any(line.startswith(BADGE_START) for line in lines):
        return "\n".join(colab_badge(name) if line.startswith(BADGE_START) else line for line in lines)
    return "\n\n".join([lines[0], colab_badge(name), *(["\n".join(lines[1:]).lstrip("\n")] if lines[1:] else [])])


def _with_plan(text: str, name: str) -> str:
    """The first markdown cell's text with the lab plan's line for ``name`` under the badge (tools/lab_plan.py)."""
    estimates = lab_plan.plan()
    mine = [e for e in estimates if e.notebook == name]
    lines = [line for line in text.split("\n") if not line.startswith(lab_plan.PLAN_START)]
    if not mine:
        return "\n".join(lines)
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith(BADGE_START)), 1)
    rest = "\n".join(lines[at:]).strip("\n")
    return "\n".join(lines[:at]) + "\n\n" + lab_plan.plan_line(mine[0], estimates) + ("\n\n" + rest if rest else "")


def _new_cell(nb: dict, name: str) -> dict:
    """An empty markdown cell for the appendix, with a stable id like ``c01-viva`` where the format has ids."""
    cell: dict = {"cell_type": "markdown"}
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        used = {c.get("id") for c in nb["cells"]}
        base = "c" + re.sub(r"[^A-Za-z0-9-]", "", Path(name).stem.split("_")[0])[:40] + "-viva"
        cell["id"] = next(i for i in [base, *(f"{base}-{n}" for n in range(2, len(used) + 3))] if i not in used)
    return {**cell, "metadata": {}, "source": ""}


def _markdown_matching(nb: dict, test: Callable[[str], bool]) -> list[dict]:
    """The markdown cells whose source passes ``test``."""
    return [c for c in nb["cells"] if c["cell_type"] == "markdown" and test(_source(c))]


def _sync_appendix(nb: dict, name: str) -> list[str]:
    """Drop the old per-question viva cells and put the appendix last; returns what changed."""
    ids = asked_questions(nb)
    unknown = sorted(set(ids) - {q["id"] for q in bank.load_questions()})
    if unknown:
        raise ValueError(f"{name} asks unknown viva question(s): {', '.join(unknown)}")
    old = _markdown_matching(nb, lambda s: OLD_VIVA_CELL.match(s) is not None)
    found = _markdown_matching(nb, lambda s: s.startswith(APPENDIX_MARKER))
    rest = [c for c in nb["cells"] if all(c is not x for x in old + found)]
    changes = [f"removed {len(old)} per-question viva cell(s)"] if old else []
    if found and not ids:
        changes.append("removed the viva appendix (no question is asked)")
    elif len(found) > 1:
        changes.append(f"removed {len(found) - 1} duplicate viva appendix cell(s)")
    if ids:
        cell = found[-1] if found else _new_cell(nb, name)  # of duplicates (a merge?), keep the last
        if found and [c for c in nb["cells"] if all(c is not x for x in old)][-1] is not cell:
            changes.append("moved the viva appendix to the end")
        if _source(cell) != viva_appendix(ids):
            changes.append("updated the viva appendix" if found else "added the viva appendix")
            _set_source(cell, viva_appendix(ids))
        rest.append(cell)
    nb["cells"] = rest
    return changes


def update(nb: dict, name: str) -> list[str]:
    """Bring a notebook's generated parts up to date in place; returns what changed (empty: nothing)."""
    changes = []
    title = _first(nb, "markdown", name)
    if _source(title) != _with_badge(_source(title), name):
        _set_source(title, _with_badge(_source(title), name))
        changes.append("rewrote the Colab badge")
    if _source(title) != _with_plan(_source(title), name):
        _set_source(title, _with_plan(_source(title), name))
        changes.append("rewrote the lab plan's line")
    setup = _first(nb, "code", name)
    if _source(setup) != setup_cell():
        _set_source(setup, setup_cell())
        changes.append("rewrote the setup cell")
    return changes + _sync_appendix(nb, name)


# ----------------------------------------------------------------------------- instructor copies

def exercise_of(cell: dict) -> str | None:
    """The exercise a code cell is the stub of (its first line is ``# Your turn: <name>``), else None."""
    if cell["cell_type"] != "code":
        return None
    found = YOUR_TURN.fullmatch(_source(cell).split("\n", 1)[0])
    return found.group(1) if found else None


def function_body(function: Callable, what: str) -> tuple[tuple[str, ...], str]:
    """(parameter names, body source without the docstring) of a ``def``, for instructors' copies."""
    source = textwrap.dedent(inspect.getsource(function))
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise TypeError(f"the reference of {what} must be a def to be copied into a notebook")
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    lines = source.splitlines()[body[0].lineno - 1:node.end_lineno]
    return tuple(a.arg for a in node.args.args), textwrap.dedent("\n".join(lines))


def table_entry(module: Any, table: str, key: str) -> tuple[str, str, set[str]]:
    """(lambda body source, its line's comment, names used) of ``table[key]`` in ``module``, for instructors' copies."""
    source = inspect.getsource(module)
    found = next(n.value for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Assign, ast.AnnAssign))
                 and table in [getattr(t, "id", "") for t in getattr(n, "targets", [getattr(n, "target", None)])])
    lam = next(v for k, v in zip(found.keys, found.values) if getattr(k, "value", None) == key)
    line = source.splitlines()[lam.lineno - 1]
    comment = line.split("#", 1)[1].strip() if "#" in line else ""
    names = {n.id for n in ast.walk(lam.body) if isinstance(n, ast.Name)}
    return ast.get_source_segment(source, lam.body), comment, names


def derivative_body(name: str) -> tuple[tuple[str, ...], str]:
    """(parameters, body) of an activation's derivative, written from its formula in ``activations.DERIVATIVES``."""
    expression, comment, names = table_entry(activations, "DERIVATIVES", name)
    body = [f"a = torch.{name.lower()}(z)  # the activation's output a = f(z)"] if "a" in names else []
    return ("z",), "\n".join(body + [f"return {expression}" + (f"  # {comment}" if comment else "")])


def solution(name: str, function: str) -> tuple[tuple[str, ...], str]:
    """An exercise function's reference as (parameter names, body source), for the instructor's copy."""
    exercise = exercises.EXERCISES[name]
    reference = exercise.references[exercise.functions.index(function)]
    if isinstance(reference, functools.partial) and reference.func is activations.derivative:  # σ′, tanh′, ReLU′
        return derivative_body(reference.args[0])
    return function_body(reference, f"{name}.{function}")


def solved(source: str, name: str) -> str:
    """A stub cell's source with each stub function's body replaced by the reference solution's body."""
    exercise = exercises.EXERCISES[name]
    lines = source.split("\n")
    stubs = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name in exercise.functions]
    for node in sorted(stubs, key=lambda n: n.lineno, reverse=True):  # bottom up: line numbers stay valid
        params, body = solution(name, node.name)
        if tuple(a.arg for a in node.args.args) != params:
            raise ValueError(f"the stub {node.name}{tuple(a.arg for a in node.args.args)} and its reference "
                             f"{params} name their parameters differently")
        keep = node.body[0].end_lineno if ast.get_docstring(node) is not None else node.body[0].lineno - 1
        indent = " " * node.body[0].col_offset
        lines[keep:node.end_lineno] = textwrap.indent(body, indent).split("\n")
    return "\n".join(lines)


def with_solutions(nb: dict, name: str) -> list[str]:
    """Fill in every exercise of a notebook (in place) and clear all outputs; returns the exercises filled."""
    filled = []
    for cell in nb["cells"]:
        exercise = exercise_of(cell)
        if exercise is not None:
            if exercise not in exercises.EXERCISES:
                raise ValueError(f"{name} has a cell for an unknown exercise {exercise!r}")
            _set_source(cell, solved(_source(cell), exercise))
            filled.append(exercise)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return filled


def write_solutions(outdir: Path, paths: Sequence[Path]) -> list[tuple[Path, list[str]]]:
    """Write each notebook, its exercises solved, into ``outdir``; returns (written file, exercises) pairs."""
    outdir = Path(outdir).resolve()
    if any(outdir == Path(p).resolve().parent for p in paths):
        raise ValueError(f"{outdir} holds the notebooks themselves: choose another folder for the copies")
    written = []
    for path in paths:
        nb = _read(Path(path))
        filled = with_solutions(nb, Path(path).name)
        target = outdir / Path(path).name
        atomic_write_text(target, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        written.append((target, filled))
    return written


# ----------------------------------------------------------------------------- files

def _read(path: Path) -> dict:
    """A notebook file as plain JSON, so that writing it back changes nothing else."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:  # a ValueError: said beside the file's name, without a traceback
        raise ValueError(f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}), so not a notebook "
                         f"file. Restore it with `git checkout -- {_shown(path)}` (your uncommitted edits to it are "
                         f"lost), or fix that line in an editor.") from None


def check_notebook(path: str | Path) -> list[str]:
    """What ``--sync`` would change in one notebook (empty: up to date); the file is not touched."""
    path = Path(path)
    return update(copy.deepcopy(_read(path)), path.name)


def sync_notebook(path: str | Path) -> list[str]:
    """Bring one notebook's generated parts up to date and write it (atomically) if anything changed."""
    path = Path(path)
    nb = _read(path)
    changes = update(nb, path.name)
    if changes:
        atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changes


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """``--sync`` or ``--check`` the notebooks named (default: all); 1 if any is stale or broken."""
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--sync", action="store_true", help="rewrite badge, setup cell and viva appendix")
    mode.add_argument("--check", action="store_true", help="exit 1 if a notebook is not up to date")
    mode.add_argument("--solutions", metavar="OUTDIR", type=Path,
                      help="write instructor copies with every exercise solved into OUTDIR")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.solutions is not None:
        try:
            for target, filled in write_solutions(args.solutions, paths):
                print(f"{_shown(target)}: {', '.join(filled) if filled else 'no exercise'}")
        except (OSError, ValueError, KeyError, SyntaxError) as err:
            print(err, file=sys.stderr)
            return 1
        return 0
    stale, status = [], 0
    for path in paths:
        try:
            changes = sync_notebook(path) if args.sync else check_notebook(path)
        except (OSError, ValueError, KeyError) as err:  # unreadable file, no setup cell, unknown question
            print(f"{_shown(path)}: {err}", file=sys.stderr)
            status = 1
            continue
        if changes:
            stale.append(_shown(path))
            print(f"{_shown(path)}: {'; '.join(changes)}" if args.sync else
                  f"{_shown(path)}: out of date ({'; '.join(changes)})")
    if args.check and stale:
        print(f"Fix with: python -m tools.notebooks --sync {' '.join(stale)}")
        return 1
    if not stale and not status:
        print(f"{len(paths)} notebook(s) up to date.")
    return status


if __name__ == "__main__":
    sys.exit(main())
