"""Your lab record (notebooks 03 §5 and 04 §2): what your runs measured, saved as you go, for the hand-in.

``record.save_run("03", history)`` saves a run's settings, accuracies and per-layer gradient shares (JSON) and the
practical's three panels of it (PNG) in ``record/`` beside your answers file; ``viva.export_button()`` (end of
notebooks 04 and 06) reads them into one HTML file to hand in.  Nothing is trained or measured again.
Storage: ``_machinery/lab_record.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ._machinery import lab_record
from .history import History


def save_run(notebook: str, runs: History | Mapping[str, History], answers_path: str | Path | None = None) -> None:
    """Save a run (notebook 03 §5) or the comparison's runs (notebook 04 §2), with three panels, in your record."""
    try:
        path = lab_record.save_runs(notebook, runs, answers_path)
        print(f"Saved in your lab record: {path.parent.name}/{path.stem}.json and the loss, accuracy and gradient-norm "
              "plots")
    except OSError as err:  # a full disk or a read-only folder: say so, never stop the notebook
        print(f"⚠ Could not save your lab record ({err}); the hand-in will say this notebook was not run.")


def save_figure(notebook: str, title: str, fig: Any, answers_path: str | Path | None = None) -> None:
    """Mark a figure as part of your lab record (any notebook): the hand-in shows it under ``title``."""
    try:
        path = lab_record.save_figure(notebook, title, fig, answers_path)
        print(f"Saved in your lab record: {path.parent.name}/{path.stem}.png")
    except OSError as err:
        print(f"⚠ Could not save this figure in your lab record ({err}).")
