"""The lab record: what a notebook measured, saved as the student runs it, for the hand-in to read (never recompute).

A folder ``record/`` beside the answers file holds one JSON file per part (``03.json``, ``04.json``: a run's
settings and results; ``figure-<slug>.json``: a figure's title) and its figures as PNG (``03.loss.png`` ...), all
of a part written together (``atomic_write_files``).  The answers file itself is never written here.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt

from ..flow import layer_shares
from ..history import History
from .answers import answers_file
from .files import atomic_write_files

PANELS = ("loss", "accuracy", "grad_norm")  # the practical's three panels, one PNG each
RUN_PARTS = {"03": "Notebook 03 — your training run", "04": "Notebook 04 — the comparison"}
SETTINGS = ("epochs", "batch_size", "lr", "optimizer", "seed", "device")


def record_folder(answers_path: str | Path | None = None) -> Path:
    """``record/`` beside the answers file (``$LAB_ANSWERS``, else ./answers.json)."""
    return answers_file(answers_path).parent / "record"


def summary(history: History) -> dict[str, Any]:
    """One run's settings and results as plain numbers: accuracies per epoch, per-layer gradient norms and shares."""
    per = history.iterations_per_epoch or len(history.grad_norm)
    layers = {}
    for label, window in (("first 20 iterations", slice(0, 20)), ("last epoch", slice(-per, None))):
        try:
            norms, shares = layer_shares(history, window)
            layers[label] = {"norms": norms, "shares": shares}
        except (ValueError, IndexError):  # no iterations recorded: no layer table
            pass
    return {"activation": history.activation, "config": dict(history.config), "epochs_done": len(history.test_acc),
            "train_acc": list(history.train_acc), "test_acc": list(history.test_acc),
            "test_loss": list(history.test_loss), "iterations": len(history.loss), "seconds": history.seconds,
            "layers": layers, "warnings": list(history.warnings)}


def _png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def save_part(key: str, data: Mapping[str, Any], figures: Mapping[str, Any],
              answers_path: str | Path | None = None) -> Path:
    """Write ``record/<key>.json`` and a ``<key>.<label>.png`` per figure together; older figures of ``key`` go."""
    folder = record_folder(answers_path)
    body = {**data, "saved_at": datetime.now().isoformat(timespec="seconds"), "figures": list(figures)}
    files = {folder / f"{key}.json": (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
             **{folder / f"{key}.{label}.png": _png(fig) for label, fig in figures.items()}}
    atomic_write_files(files)
    for old in folder.glob(f"{key}.*.png"):  # an earlier save's figure that this one does not have
        if old not in files:
            old.unlink(missing_ok=True)
    return folder / f"{key}.json"


def save_runs(notebook: str, runs: History | Mapping[str, History], answers_path: str | Path | None = None) -> Path:
    """Save a notebook's run (one ``History``) or runs ({activation: History}), with the practical's three panels
    drawn from them (loss, accuracy, gradient norm) as three PNGs."""
    from ..plots import plot_comparison  # matplotlib only when a run is saved

    runs = {runs.activation: runs} if isinstance(runs, History) else dict(runs)
    figures = {panel: plot_comparison(runs, panels=(panel,)) for panel in PANELS}
    try:
        return save_part(notebook, {"notebook": notebook, "runs": {n: summary(h) for n, h in runs.items()}}, figures,
                         answers_path)
    finally:
        for fig in figures.values():
            plt.close(fig)


def save_figure(notebook: str, title: str, fig: Any, answers_path: str | Path | None = None) -> Path:
    """Save a figure a notebook marks as part of the record, under its title."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{notebook} {title}".lower()).strip("-")[:60]
    return save_part(f"figure-{slug}", {"notebook": notebook, "title": title}, {"figure": fig}, answers_path)


def read_record(answers_path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Every saved part, {key: data with "png" (bytes or None)}; unreadable parts are skipped."""
    parts = {}
    for path in sorted(record_folder(answers_path).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        pngs = {label: path.with_name(f"{path.stem}.{label}.png") for label in data.get("figures", [])}
        data["png"] = {label: png.read_bytes() for label, png in pngs.items() if png.exists()}
        parts[path.stem] = data
    return parts
