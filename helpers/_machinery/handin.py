"""The hand-in: every viva question and observation with the student's answer, then every exercise's status.

``viva.export_button()`` (notebook 06) and ``python -m helpers.viva --export OUT.md`` come here; the questions
come from ``questions.py``, which knows nothing of viva or the exercises: no import cycle.
"""

from __future__ import annotations

import argparse
import html
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .. import exercises
from . import questions
from .answers import ANSWERS_VARIABLE, answers_file, find_answers_file, read_answers
from .checking import DONE, NOT_DONE
from .files import atomic_write_text

if TYPE_CHECKING:  # imported lazily at run time: the command line needs no widgets
    import ipywidgets

NO_ANSWER = "_(no answer yet)_"


# ----------------------------------------------------------------------------- the Markdown

def export_lines(answers: Mapping[str, str]) -> list[str]:
    """The ``## Exercises`` section of the hand-in: every exercise with its status, then the predictions."""
    lines = ["", "## Exercises", "", "| notebook | exercise | status |", "| --- | --- | --- |"]
    for e in exercises.EXERCISES.values():
        status = (answers.get(f"exercise:{e.name}") or NOT_DONE).replace("|", "/")
        lines.append(f"| {e.notebook} | `{e.name}`: {e.title} | {status} |")
    keys = [k for k in answers if k.startswith("prediction:") and k.count(":") == 1]
    lines += ["", "**Predictions**", ""] + ([] if keys else ["_(no prediction committed)_"])
    for key in keys:
        measured, note, when = (answers.get(f"{key}:{k}") for k in ("measured", "note", "committed_at"))
        lines.append(f"- `{key.split(':', 1)[1]}` — {answers.get(key + ':question', '')} "
                     f"You predicted “{answers[key]}”" + (f" (committed {when.replace('T', ' ')})" if when else "")
                     + (f"; the run measured “{measured}”" if measured else "; not measured yet")
                     + (f" ({note})" if note else "") + ".")
    return lines


def export_markdown(answers: Mapping[str, str],
                    fill_by_id: Mapping[str, Mapping[str, Any]] | None = None,
                    include_model_answers: bool = False) -> str:
    """Every question of the lab, notebook by notebook, each followed by the student's answer; then the exercises."""
    lines = ["# My viva answers", "", f"_Exported {datetime.now():%Y-%m-%d %H:%M}._"]
    number = 0
    for notebook in questions.NOTEBOOKS:
        qs = questions.questions_for(notebook)
        for kind, heading in (("observation", f"## Notebook {notebook} — observations"),
                              ("viva", f"## Notebook {notebook}")):
            group = [q for q in qs if q.get("kind", "viva") == kind]
            lines += ["", heading] if group else []
            for q in group:  # viva questions numbered on across the notebooks; observations carry their (a)-(d)
                number += kind == "viva"
                text = (answers.get(q["id"]) or "").strip()
                lines += ["", f"### {f'{number}. ' if kind == 'viva' else ''}{q['question']}", "", text or NO_ANSWER]
                if include_model_answers:
                    lines += ["", questions.model_answer_details(q, (fill_by_id or {}).get(q["id"]))]
    return "\n".join(lines + export_lines(answers)) + "\n"


def export_answers(path_md: str | Path = "my_viva_answers.md",
                   answers_path: str | Path | None = None,
                   fill_by_id: Mapping[str, Mapping[str, Any]] | None = None,
                   include_model_answers: bool = False) -> Path:
    """Write all questions and the student's answers to one Markdown file (atomically); returns its path."""
    source = answers_file(answers_path)
    answers, problem = read_answers(source)
    if problem:
        raise ValueError(f"Cannot export: {problem}. Fix or remove that file first.")
    target = Path(path_md).expanduser().absolute()
    atomic_write_text(target, export_markdown(answers, fill_by_id, include_model_answers))
    return target


# ----------------------------------------------------------------------------- the button

def export_button(path_md: str | Path = "my_viva_answers.md",
                  answers_path: str | Path | None = None,
                  fill_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> ipywidgets.VBox:
    """A button that exports the answers to Markdown, with a status line saying where they went."""
    import ipywidgets as w

    button = w.Button(description="Export my answers", icon="download", layout=w.Layout(width="auto"))
    status = w.HTML(value="")

    def on_click(_button: Any) -> None:
        try:
            target = export_answers(path_md, answers_path, fill_by_id)
            answers, _ = read_answers(answers_file(answers_path))
            every = questions.load_questions()
            done = sum(1 for q in every if (answers.get(q["id"]) or "").strip())
            exercises_done = sum(answers.get(f"exercise:{name}") == DONE for name in exercises.EXERCISES)
            status.value = (f"Wrote <code>{html.escape(str(target))}</code>: "
                            f"{done} of {len(every)} questions answered, "
                            f"{exercises_done} of {len(exercises.EXERCISES)} exercises done."
                            + _colab_download(target))
        except Exception as err:  # never crash the notebook; say what happened instead
            status.value = f'<span style="color:#b00">⚠ Export failed: {html.escape(str(err))}</span>'

    button.on_click(on_click)
    box = w.VBox([button, status])
    box.button, box.status = button, status
    return box


def _colab_download(path: Path) -> str:
    """On Google Colab, offer the file to the browser as a download, and say how else to get it."""
    if "google.colab" not in sys.modules:
        return ""
    try:
        from google.colab import files  # type: ignore[import-not-found]

        files.download(str(path))
        offered = " Your browser was offered it as a download."
    except Exception:  # noqa: BLE001 - the manual route below always works
        offered = ""
    return (f"{offered} On Colab the file lives on the runtime, which is deleted when it ends: to keep it, open "
            "the Files panel (the folder icon on the left), find it under <code>/content/lab/notebooks</code>, and "
            "choose Download from its ⋮ menu.")


# ----------------------------------------------------------------------------- command line

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.viva --export``: every question and the answers to Markdown (for handing in)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.viva", description=__doc__.splitlines()[0])
    parser.add_argument("--export", metavar="OUT.md", required=True,
                        help="write every question and your answers to OUT.md")
    parser.add_argument("--answers", metavar="FILE",
                        help="answers file (default: $LAB_ANSWERS, else ./answers.json, else notebooks/answers.json)")
    parser.add_argument("--model-answers", action="store_true", help="include the model answers")
    args = parser.parse_args(argv)
    source, looked = find_answers_file(args.answers)
    if source is None:
        print(f"No answers file found: looked for {' and '.join(map(str, looked))}. Answer a question in a notebook "
              f"first (they are saved in notebooks/answers.json), or name your file with --answers FILE or "
              f"${ANSWERS_VARIABLE}. Nothing was exported.", file=sys.stderr)
        return 1
    try:
        target = export_answers(args.export, source, include_model_answers=args.model_answers)
    except (ValueError, OSError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f"Wrote {target} (your answers from {source})")
    return 0
