"""Viva (oral exam) questions: the texts live once, in ``viva_questions.json``; this module shows them.

``viva.ask(["role", "ranges"])`` shows questions to answer (saved as you type), with a self-check and the model
answer; entries of kind "observation" (notebook 04 §7) are the practical's observations, read from your own run;
``viva.export_button()`` (end of notebooks 04 and 07) or ``python -m helpers.viva --export my_lab_record.html`` writes
your lab record (runs, figures, answers, exercises) into one HTML file to hand in.  Widgets, answers, export:
``_machinery/``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ._machinery import handin
from ._machinery.answers import AnswerStore
from ._machinery.questions import answer_text, question  # noqa: F401 - notebooks' appendices: viva.question(id)
from ._machinery.widgets import questions_box

if TYPE_CHECKING:  # imported lazily at run time: the command line needs no widgets
    import ipywidgets

__all__ = ["ask", "best_fill", "export_button", "question"]


def best_fill(test_accuracy: Mapping[str, float]) -> dict[str, str]:
    """Fill values for the "best" question (notebook 04 §8) from {activation: final test accuracy} (fractions or %)."""
    if not test_accuracy:
        raise ValueError("best_fill needs at least one activation and its test accuracy.")
    scale = 100.0 if all(v <= 1 for v in test_accuracy.values()) else 1.0
    percent = {name: float(v) * scale for name, v in test_accuracy.items()}
    top = max(percent.values())
    winners = [name for name, v in percent.items() if round(v, 2) == round(top, 2)]
    rows = [f"| {name} | {v:.2f} % |" for name, v in sorted(percent.items(), key=lambda kv: -kv[1])]
    return {"best": " and ".join(winners) + (" (tied)" if len(winners) > 1 else ""), "best_test_acc": f"{top:.2f} %",
            "table": "\n".join(["| Activation | Test accuracy |", "|---|---:|", *rows])}


# ----------------------------------------------------------------------------- in the notebooks

def ask(ids: Sequence[str], fill: Mapping[str, Any] | None = None,
        answers_path: str | Path | None = None) -> ipywidgets.VBox:
    """Show viva questions to answer (every notebook), saved as you type; ``.items`` maps ids to their widgets."""
    questions = [question(i) for i in ids]  # unknown ids fail here, before any widget appears
    return questions_box([(q, answer_text(q, fill)) for q in questions], AnswerStore(answers_path))


def export_button(path: str | Path = "my_lab_record.html", answers_path: str | Path | None = None,
                  fill_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> ipywidgets.VBox:
    """Your name and a button that writes your lab record, one HTML file to hand in (end of notebooks 04 and 07)."""
    return handin.export_button(path, answers_path, fill_by_id)


if __name__ == "__main__":  # python -m helpers.viva --export OUT.html, or --overview FOLDER
    sys.exit(handin.main())
