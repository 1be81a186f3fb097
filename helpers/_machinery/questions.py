"""The viva question bank: the texts, written once in ``helpers/viva_questions.json``, loaded and checked here.

Machinery: you never need to open this file; ``helpers/viva.py`` shows the questions in the notebooks, and the
hand-in (``handin.py``) and ``tools/notebooks.py`` read them from here.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

_QUESTIONS_FILE = Path(__file__).parent.parent / "viva_questions.json"  # the texts, written once
NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07")
KINDS = ("viva", "observation")  # "kind" of an entry: a viva question (the default), or a practical's observation
_PENDING = "_(In the notebook, this first part is built from your own run: see the question's widget.)_"


@lru_cache(maxsize=1)
def _questions() -> tuple[dict, ...]:
    """The questions as read from the JSON file, checked once."""
    data = json.loads(_QUESTIONS_FILE.read_text(encoding="utf-8"))
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
        if q.get("kind", "viva") not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
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
    """The questions of one notebook ("01" ... "07"), in file order (the hand-in's sections)."""
    return [q for q in load_questions() if q["notebook"] == str(notebook).zfill(2)]


def answer_text(q: dict, fill: Mapping[str, Any] | None = None) -> str:
    """A question's model answer (``ask``, appendices, hand-in): a templated one filled from ``fill``, or pending."""
    names = q.get("placeholders", [])
    text = q["answer"]
    if not names:
        return text
    if fill is None:  # the paragraphs that need measured numbers give way to one note
        kept = []
        for block in text.split("\n\n"):
            pending = any("{" + n + "}" in block for n in names)
            if not (pending and _PENDING in kept):
                kept.append(_PENDING if pending else block)
        return "\n\n".join(kept)
    missing = [n for n in names if n not in fill]
    if missing:
        raise KeyError(f"Question {q['id']!r} needs fill values for: {', '.join(missing)}")
    for name in names:
        text = text.replace("{" + name + "}", str(fill[name]))
    return text


def model_answer_details(q: dict, fill: Mapping[str, Any] | None = None) -> str:
    """A model answer in a collapsed ``<details>`` block, for the notebooks' appendices and the hand-in."""
    return f"<details><summary>Model answer</summary>\n\n{answer_text(q, fill)}\n\n</details>"
