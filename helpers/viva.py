"""Viva (oral exam) questions: the texts live once, in ``viva_questions.json``; this module shows them.

In a notebook, ``viva.ask(["role", "ranges"])`` shows interactive questions: type an answer (saved in
answers.json as you type), try the self-check, then reveal the model answer.  ``viva.export_button()``
(notebook 06) writes your answers and every exercise's status into one Markdown file to hand in, as does
``python -m helpers.viva --export out.md``.  ``python -m tools.notebooks --sync`` writes each notebook's
appendix of questions and model answers.  Widgets, answers file and export: ``_machinery/``.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ._machinery import handin
from ._machinery.answers import AnswerStore
from ._machinery.widgets import questions_box

if TYPE_CHECKING:  # imported lazily at run time: the command line needs no widgets
    import ipywidgets

__all__ = ["NOTEBOOKS", "ask", "best_fill", "export_button",
           "load_questions", "model_answer_details", "question", "questions_for"]

_QUESTIONS_FILE = Path(__file__).with_name("viva_questions.json")  # the texts, written once
NOTEBOOKS = ("01", "02", "03", "04", "05", "06")
_PENDING = "_(In the notebook, this first part is built from your own run: see the question's widget.)_"


# ----------------------------------------------------------------------------- the question bank

@lru_cache(maxsize=1)
def _questions() -> tuple[dict, ...]:
    """The questions as read from the JSON file, checked once."""
    with open(_QUESTIONS_FILE, encoding="utf-8") as f:
        data = json.load(f)
    problems = _validate_questions(data)
    if problems:
        raise ValueError(f"{_QUESTIONS_FILE.name} is invalid:\n  " + "\n  ".join(problems))
    return tuple(data)


def _validate_questions(data: Any) -> list[str]:
    """Problems in a question list, empty if it is well formed (checked at each load of the file)."""
    if not isinstance(data, list):
        return ["the file must hold one JSON list"]
    problems, seen = [], set()
    for i, q in enumerate(data):
        where = f"entry {i} ({q.get('id', '?') if isinstance(q, dict) else '?'})"
        if not isinstance(q, dict):
            problems.append(f"{where}: not an object")
            continue
        problems += [f"{where}: '{key}' must be a non-empty string" for key in ("id", "notebook", "question", "answer")
                     if not isinstance(q.get(key), str) or not q[key].strip()]
        if q.get("id") in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(q.get("id"))
        if q.get("notebook") not in NOTEBOOKS:
            problems.append(f"{where}: notebook must be one of {', '.join(NOTEBOOKS)}")
        if "choices" in q:
            choices, correct = q["choices"], q.get("correct")
            if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
                problems.append(f"{where}: 'choices' must be a list of two or more strings")
            elif not isinstance(correct, int) or isinstance(correct, bool) or not 0 <= correct < len(choices):
                problems.append(f"{where}: 'correct' must be an index into 'choices'")
        problems += [f"{where}: placeholder {{{name}}} is not in the answer" for name in q.get("placeholders", [])
                     if "{" + name + "}" not in q.get("answer", "")]
    return problems


def load_questions() -> list[dict]:
    """Every question of the lab, in notebook order, as a copy (tools/notebooks.py, the hand-in)."""
    return copy.deepcopy(list(_questions()))


def question(id: str) -> dict:
    """One question by id (``ask``, the notebooks' appendices); a KeyError lists the valid ids."""
    for q in _questions():
        if q["id"] == id:
            return copy.deepcopy(q)
    valid = ", ".join(q["id"] for q in _questions())
    raise KeyError(f"Unknown viva question {id!r}. Valid ids: {valid}")


def questions_for(notebook: str) -> list[dict]:
    """The questions of one notebook ("01" ... "06"), in file order (the hand-in's sections)."""
    return [q for q in load_questions() if q["notebook"] == str(notebook).zfill(2)]


def _answer_text(q: dict, fill: Mapping[str, Any] | None = None) -> str:
    """A question's model answer (``ask``, appendices, hand-in): a templated one filled from ``fill``, or pending."""
    names = q.get("placeholders", [])
    text = q["answer"]
    if not names:
        return text
    if fill is None:  # drop the paragraphs that need measured numbers, once replaced by a note
        kept, noted = [], False
        for block in text.split("\n\n"):
            if any("{" + n + "}" in block for n in names):
                if not noted:
                    kept.append(_PENDING)
                    noted = True
            else:
                kept.append(block)
        return "\n\n".join(kept)
    missing = [n for n in names if n not in fill]
    if missing:
        raise KeyError(f"Question {q['id']!r} needs fill values for: {', '.join(missing)}")
    for name in names:
        text = text.replace("{" + name + "}", str(fill[name]))
    return text


def best_fill(test_accuracy: Mapping[str, float]) -> dict[str, str]:
    """Fill values for the "best" question (notebook 04 §8) from {activation: final test accuracy} (fractions or %)."""
    if not test_accuracy:
        raise ValueError("best_fill needs at least one activation and its test accuracy.")
    scale = 100.0 if all(v <= 1 for v in test_accuracy.values()) else 1.0
    percent = {name: float(v) * scale for name, v in test_accuracy.items()}
    top = max(percent.values())
    winners = [name for name, v in percent.items() if round(v, 2) == round(top, 2)]
    rows = [f"| {name} | {v:.2f} % |" for name, v in sorted(percent.items(), key=lambda kv: -kv[1])]
    return {
        "best": " and ".join(winners) + (" (tied)" if len(winners) > 1 else ""),
        "best_test_acc": f"{top:.2f} %",
        "table": "\n".join(["| Activation | Test accuracy |", "|---|---:|", *rows]),
    }


def model_answer_details(q: dict, fill: Mapping[str, Any] | None = None) -> str:
    """A model answer in a collapsed ``<details>`` block, for the notebooks' appendices and the hand-in."""
    return f"<details><summary>Model answer</summary>\n\n{_answer_text(q, fill)}\n\n</details>"


# ----------------------------------------------------------------------------- in the notebooks

def ask(ids: Sequence[str], fill: Mapping[str, Any] | None = None,
        answers_path: str | Path | None = None) -> ipywidgets.VBox:
    """Show viva questions to answer (every notebook), saved as you type; ``.items`` maps ids to their widgets."""
    questions = [question(i) for i in ids]  # unknown ids fail here, before any widget appears
    return questions_box([(q, _answer_text(q, fill)) for q in questions], AnswerStore(answers_path))


def export_button(path_md: str | Path = "my_viva_answers.md", answers_path: str | Path | None = None,
                  fill_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> ipywidgets.VBox:
    """A button that writes every question with your answer, and your exercises, into one Markdown file to hand (notebook 06)
    in (notebook 06, "Hand in your answers"; in any notebook, from a new cell)."""
    return handin.export_button(sys.modules[__name__], path_md, answers_path, fill_by_id)  # this module: the questions


if __name__ == "__main__":  # python -m helpers.viva --export OUT.md
    sys.exit(handin.main(sys.modules[__name__]))
