"""Write a notebook from a list of cells: ("md" | "code", source). Used while authoring notebooks.

    from tools.nbbuild import build
    build("notebooks/01_x.ipynb", [("md", "# Title"), ("code", "x = 1")])

Notebooks are written without outputs or execution counts, with a python3 kernelspec and stable
cell ids, so they stay diffable.
"""

from __future__ import annotations

import json
from pathlib import Path


def build(path: str | Path, cells: list[tuple[str, str]]) -> Path:
    path = Path(path)
    stem = path.stem.split("_")[0]
    out = []
    for i, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        cell = {"cell_type": "markdown" if kind == "md" else "code", "id": f"c{stem}-{i:02d}",
                "metadata": {}, "source": source}
        if kind != "md":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    nb = {"cells": out, "metadata": {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
