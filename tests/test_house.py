"""The house: a small student-facing ``helpers`` with the machinery in ``helpers/_machinery/``, no import cycle."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
MACHINERY = HELPERS / "_machinery"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
READ_IN_ONE_SITTING = 160  # lines: "about 150" for a file a notebook sends a student to
PUBLIC_NAMES = 129  # outside the machinery (the old helpers: about 250); 110 are called by a notebook, the rest
# are what a run hands back (History, MNISTTensors, Progress, TunedRate, the training errors) or what the loop, tools, CLI use
# and record.save_figure (a figure any notebook may mark for the hand-in)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in HELPERS.rglob("*.py")}
STUDENT_FILES = [p for p in MODULES.values() if MACHINERY not in p.parents]


def imports(path: Path) -> set[str]:
    """The helpers modules ``path`` imports, at the top or inside functions."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found |= {name for name in [target, *(f"{target}.{a.name}" for a in node.names)] if name in MODULES}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
    return found - {here, "helpers"}  # every submodule imports its package first: not a cycle of ours


def test_no_import_cycle():
    graph = {name: imports(path) for name, path in MODULES.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for nxt in sorted(graph[name]):
            assert state.get(nxt) != "open", "import cycle: " + " -> ".join(trail + [name, nxt])
            if nxt not in state:
                visit(nxt, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def notebook_code(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                     if c["cell_type"] == "code")


def notebook_text(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_notebooks_import_from_the_student_side_only(notebook):
    assert "_machinery" not in notebook_code(notebook)


def test_files_a_notebook_sends_a_student_to_read_in_one_sitting():
    named = {m for nb in NOTEBOOKS for m in re.findall(r"helpers/([\w/]+\.py)", notebook_text(nb))}
    sent = {HELPERS / name for name in named if "_machinery" not in name}
    sent |= {HELPERS / f"{name}.py" for name in ("activations", "model", "practical", "data", "train", "history")}
    long = {p.relative_to(ROOT).as_posix(): n for p in sent if (n := len(p.read_text().splitlines())) > READ_IN_ONE_SITTING}
    assert long == {}


def public_definitions(path: Path) -> list[ast.AST]:
    """Top-level functions, classes and constants without a leading underscore (imports are not counted)."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names = ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                 [t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)]
                 if isinstance(node, (ast.Assign, ast.AnnAssign)) else [])
        found += [node for name in names if not name.startswith("_") and name != "__all__"]
    return found


def test_few_public_names_each_saying_which_notebook_uses_it():
    definitions = [(p, d) for p in STUDENT_FILES for d in public_definitions(p)]
    assert len(definitions) <= PUBLIC_NAMES
    undocumented = [f"{p.relative_to(ROOT)}: {d.name}" for p, d in definitions
                    if isinstance(d, (ast.FunctionDef, ast.ClassDef))
                    and not re.search(r"[Nn]otebook|command line", (ast.get_docstring(d) or "").split("\n\n")[0])]
    assert undocumented == []


def test_machinery_says_students_need_not_open_it():
    first = ast.get_docstring(ast.parse((MACHINERY / "__init__.py").read_text(encoding="utf-8"))).splitlines()[0]
    assert "never need to open" in first
