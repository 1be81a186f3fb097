"""Where this lab lives: the one place that names its repository (Colab badges and setup cells use it).

To publish a fork: change REPO_URL (and BRANCH), then run ``python -m helpers.project --sync``,
which rewrites the badge and setup cell of every notebook; ``tests/test_notebooks.py`` checks them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_URL = "https://github.com/activation-lab/activation-lab"
BRANCH = "main"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


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


def sync(paths: list[Path]) -> list[Path]:
    """Rewrite the badge (first cell) and setup cell (first code cell) of each notebook; return those changed."""
    changed = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
        first_markdown = next(c for c in cells if c["cell_type"] == "markdown")
        first_code = next(c for c in cells if c["cell_type"] == "code")
        lines = "".join(first_markdown["source"]).split("\n")
        lines = [colab_badge(path.name) if l.startswith("[![Open In Colab]") else l for l in lines]
        new_markdown, new_code = "\n".join(lines), setup_cell()
        if "".join(first_markdown["source"]) != new_markdown or "".join(first_code["source"]) != new_code:
            first_markdown["source"], first_code["source"] = new_markdown, new_code
            from .files import atomic_write_text
            atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


if __name__ == "__main__":
    if sys.argv[1:] != ["--sync"]:
        sys.exit("usage: python -m helpers.project --sync")
    for p in sync(sorted(NOTEBOOKS.glob("*.ipynb"))):
        print(f"updated {p}")
