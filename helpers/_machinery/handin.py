"""The hand-in: one self-contained HTML file (or Markdown) with the student's name, runs, figures and answers.

``viva.export_button()`` (end of notebooks 04 and 07) and ``python -m helpers.viva --export OUT.html`` come here;
the runs and figures come from the lab record (``lab_record.py``, saved as the notebooks ran), the questions from
``questions.py``; the structured data rides along in the HTML (``<script id="lab-record">``) for
``python -m helpers.viva --overview`` (``overview.py``).  Nothing here writes the answers file but the name.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .. import exercises
from . import lab_record, questions
from .answers import ANSWERS_VARIABLE, AnswerStore, answers_file, find_answers_file, read_answers
from .checking import DONE, NOT_DONE
from .files import atomic_write_text, keep_older

if TYPE_CHECKING:  # imported lazily at run time: the command line needs no widgets
    import ipywidgets

NO_ANSWER = "_(no answer yet)_"
STUDENT = {"name": ":student:name", "number": ":student:number"}  # reserved keys in the answers file
LAYERS = ("first hidden", "second hidden", "output")


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


# ----------------------------------------------------------------------------- the HTML hand-in

def lab_version() -> str:
    """The lab's git commit (short), or "unknown" outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parents[2],
                              capture_output=True, text=True, timeout=10)
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def record_data(answers: Mapping[str, str], parts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Everything the hand-in holds, as plain data (embedded in the HTML for the lecturer's overview)."""
    keys = [k for k in answers if k.startswith("prediction:") and k.count(":") == 1]
    return {
        "format": "activation-lab hand-in 1",
        "student": {field: (answers.get(key) or "").strip() for field, key in STUDENT.items()},
        "exported_at": datetime.now().isoformat(timespec="seconds"), "lab_version": lab_version(),
        "questions": [{"id": q["id"], "notebook": nb, "kind": q.get("kind", "viva"), "question": q["question"],
                       "answer": (answers.get(q["id"]) or "").strip()}
                      for nb in questions.NOTEBOOKS for q in questions.questions_for(nb)],
        "exercises": [{"name": e.name, "notebook": e.notebook, "title": e.title,
                       "status": answers.get(f"exercise:{e.name}") or NOT_DONE} for e in exercises.EXERCISES.values()],
        "predictions": [{"id": k.split(":", 1)[1], "question": answers.get(k + ":question", ""),
                         "predicted": answers[k],
                         **{f: answers.get(f"{k}:{f}", "") for f in ("measured", "note", "committed_at")}}
                        for k in keys],
        "runs": {nb: ({k: v for k, v in parts[nb].items() if k != "png"} if nb in parts else None)
                 for nb in lab_record.RUN_PARTS},
        "figures": [{"title": p["title"], "notebook": p.get("notebook", "")} for p in parts.values() if "title" in p],
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table, every cell escaped."""
    cells = lambda row, tag: "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row)  # noqa: E731
    return (f"<table><tr>{cells(header, 'th')}</tr>" + "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
            + "</table>")


def _image(png: bytes | None, alt: str) -> str:
    """A PNG embedded as base64 (the file stays one file)."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">' if png else ""


def _runs_html(notebook: str, part: Mapping[str, Any] | None) -> str:
    """A notebook's settings, results and per-layer gradient table, and its figure; or that it has not run yet."""
    if part is None:
        return f'<p class="missing">Not run yet: run notebook {notebook} to fill this section.</p>'
    runs = part["runs"]
    pct = lambda v: f"{100 * v[-1]:.2f} %" if v else "–"  # noqa: E731
    settings = [[n, *(r["config"].get(k, "–") for k in lab_record.SETTINGS)] for n, r in runs.items()]
    results = [[n, f"{r['epochs_done']} of {r['config'].get('epochs')}", pct(r["train_acc"]), pct(r["test_acc"]),
                f"{r['seconds']:.1f}"] for n, r in runs.items()]
    layers = [[n, LAYERS[i] if len(r["layers"][w]["norms"]) == 3 else f"layer {i + 1}", w,
               f"{r['layers'][w]['norms'][i]:.4f}", f"{100 * r['layers'][w]['shares'][i]:.1f} %"]
              for n, r in runs.items() for w in r["layers"] for i in range(len(r["layers"][w]["norms"]))]
    return ("<h3>Settings</h3>" + _table(["activation", *lab_record.SETTINGS], settings)
            + "<h3>Results</h3>" + _table(["activation", "epochs run", "train accuracy (last epoch)", "test accuracy",
                                           "seconds"], results)
            + "<h3>Gradient norm per layer and its share of the squared global norm</h3>"
            + _table(["activation", "layer", "iterations", "mean norm", "share"], layers)
            + "".join(_image(png, f"notebook {notebook}: {label}") for label, png in (part.get("png") or {}).items())
            + f'<p class="note">Saved {html.escape(part.get("saved_at", "").replace("T", " "))}.</p>')


def _answers_html(qs: Sequence[Mapping[str, str]]) -> str:
    """Each question with the student's answer, or that it is not answered yet."""
    return "".join(f"<h4>{html.escape(q['question'])}</h4>" + (f'<div class="answer">{html.escape(q["answer"])}</div>'
                   if q["answer"] else '<p class="missing">No answer yet.</p>') for q in qs)


STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
         "table{border-collapse:collapse;margin:.5rem 0}"
         "td,th{border:1px solid #bbb;padding:.2rem .5rem;text-align:left}"
         "img{max-width:100%}.missing{color:#a40}.answer{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}"
         ".note{color:#666;font-size:.9em}@media print{h2{break-before:auto}img{break-inside:avoid}}")


def export_html(answers: Mapping[str, str], parts: Mapping[str, Mapping[str, Any]]) -> str:
    """The whole hand-in as one self-contained HTML page (figures inside, structured data in a script tag)."""
    data = record_data(answers, parts)
    qs, student = data["questions"], data["student"]
    missing = [nb for nb, part in data["runs"].items() if part is None]
    done = sum(e["status"] == DONE for e in data["exercises"])
    body = [f"<h1>Activation functions lab — lab record</h1>",
            _table(["name", "student number", "exported", "lab version"],
                   [[student["name"] or "(no name given)", student["number"] or "–",
                     data["exported_at"].replace("T", " "), data["lab_version"]]]),
            f"<p>{sum(bool(q['answer']) for q in qs)} of {len(qs)} questions answered, {done} of "
            f"{len(data['exercises'])} exercises done, {len(data['predictions'])} predictions committed."
            + (f" Not run yet: notebook {', '.join(missing)}." if missing else "") + "</p>"]
    for nb, title in lab_record.RUN_PARTS.items():
        body += [f"<h2>{title}</h2>", _runs_html(nb, parts.get(nb))]
    figures = [p for p in parts.values() if "title" in p]
    body += ["<h2>Other figures</h2>"] if figures else []
    for p in figures:
        body += [f"<h3>{html.escape(p['title'])} (notebook {html.escape(p.get('notebook', ''))})</h3>",
                 *(_image(png, p["title"]) for png in (p.get("png") or {}).values())]
    body += ["<h2>Observations and conclusion (notebook 04 §7)</h2>",
             _answers_html([q for q in qs if q["kind"] == "observation"]), "<h2>Viva answers</h2>"]
    for nb in questions.NOTEBOOKS:
        group = [q for q in qs if q["notebook"] == nb and q["kind"] == "viva"]
        body += [f"<h3>Notebook {nb}</h3>", _answers_html(group)] if group else []
    body += ["<h2>Exercises</h2>", _table(["notebook", "exercise", "status"],
                                          [[e["notebook"], f"{e['name']}: {e['title']}", e["status"]]
                                           for e in data["exercises"]]), "<h2>Predictions</h2>"]
    body += [_table(["id", "question", "predicted", "measured", "committed"],
                    [[p["id"], p["question"], p["predicted"], p["measured"] or "not measured yet",
                      p["committed_at"].replace("T", " ") + (f" ({p['note']})" if p["note"] else "")]
                     for p in data["predictions"]])
             if data["predictions"] else '<p class="missing">None committed.</p>']
    embedded = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")  # never ends the script tag early
    title = html.escape(f"Lab record — {student['name'] or 'no name'}")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body)
            + f'\n<script type="application/json" id="lab-record">{embedded}</script>\n</body></html>\n')


def export_answers(path: str | Path = "my_lab_record.html",
                   answers_path: str | Path | None = None,
                   fill_by_id: Mapping[str, Mapping[str, Any]] | None = None,
                   include_model_answers: bool = False) -> Path:
    """Write the hand-in (HTML, or Markdown for a ``.md`` path) atomically, keeping an older one; returns its path."""
    return write_handin(path, answers_path, fill_by_id, include_model_answers)[0]


def write_handin(path: str | Path, answers_path: str | Path | None = None,
                 fill_by_id: Mapping[str, Mapping[str, Any]] | None = None,
                 include_model_answers: bool = False) -> tuple[Path, Path | None]:
    """``export_answers``, returning (the hand-in, the copy kept of an earlier one at that path or None)."""
    source = answers_file(answers_path)
    answers, problem = read_answers(source)
    if problem:
        raise ValueError(f"Cannot export: {problem}. Fix or remove that file first.")
    target = Path(path).expanduser().absolute()
    if target.resolve() == source.resolve():
        raise ValueError(f"Refusing to export onto the answers file itself ({source}): choose another name.")
    text = (export_markdown(answers, fill_by_id, include_model_answers) if target.suffix.lower() == ".md"
            else export_html(answers, lab_record.read_record(source)))
    older = keep_older(target)
    atomic_write_text(target, text)
    return target, older


# ----------------------------------------------------------------------------- the button

def export_button(path: str | Path = "my_lab_record.html",
                  answers_path: str | Path | None = None,
                  fill_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> ipywidgets.VBox:
    """Name and student number fields and a button that writes the hand-in, with a status line saying where it went."""
    import ipywidgets as w

    store = AnswerStore(answers_path)
    fields = {f: w.Text(value=store.answers.get(key, ""), description=label, placeholder=hint,
                        style={"description_width": "initial"})
              for (f, key), label, hint in zip(STUDENT.items(), ("Your name", "Student number"),
                                               ("as your lecturer knows you", "optional"))}
    button = w.Button(description="Export my lab record", icon="download", layout=w.Layout(width="auto"))
    status = w.HTML(value="")

    def on_click(_button: Any) -> None:
        try:
            for field, key in STUDENT.items():
                text = fields[field].value.strip()
                if text != store.answers.get(key, "") and (problem := store.save(key, text)):
                    raise OSError(problem)
            target, older = write_handin(path, answers_path, fill_by_id)
            answers, _ = read_answers(answers_file(answers_path))
            data = record_data(answers, lab_record.read_record(answers_path))
            missing = [nb for nb, part in data["runs"].items() if part is None]
            status.value = (f"Wrote <code>{html.escape(str(target))}</code>: "
                            f"{sum(bool(q['answer']) for q in data['questions'])} of {len(data['questions'])} "
                            f"questions answered, {sum(e['status'] == DONE for e in data['exercises'])} of "
                            f"{len(data['exercises'])} exercises done."
                            + (f" Not run yet: notebook {', '.join(missing)}." if missing else "")
                            + (f" The earlier file is kept as <code>{html.escape(older.name)}</code>." if older else "")
                            + ("" if data["student"]["name"] else " <b>Type your name above and export again.</b>")
                            + _colab_download(target))
        except Exception as err:  # never crash the notebook; say what happened instead
            status.value = f'<span style="color:#b00">⚠ Export failed: {html.escape(str(err))}</span>'

    button.on_click(on_click)
    box = w.VBox([w.HBox(list(fields.values())), button, status])
    box.button, box.status, box.name, box.number = button, status, fields["name"], fields["number"]
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
    """``python -m helpers.viva --export OUT.html``: the hand-in; ``--overview FOLDER``: a class's, in one table."""
    parser = argparse.ArgumentParser(prog="python -m helpers.viva", description=__doc__.splitlines()[0])
    job = parser.add_mutually_exclusive_group(required=True)
    job.add_argument("--export", metavar="OUT.html",
                     help="write your lab record to OUT.html (one self-contained file; OUT.md: answers as Markdown)")
    job.add_argument("--overview", metavar="FOLDER", help="(lecturers) read every hand-in (*.html) in FOLDER")
    parser.add_argument("--out", metavar="FILE", default="overview.html",
                        help="with --overview: the table to write (.html or .md; default overview.html)")
    parser.add_argument("--answers", metavar="FILE",
                        help="answers file (default: $LAB_ANSWERS, else ./answers.json, else notebooks/answers.json)")
    parser.add_argument("--model-answers", action="store_true", help="with a .md export: include the model answers")
    args = parser.parse_args(argv)
    if args.overview:
        from . import overview

        return overview.main(args.overview, args.out)
    source, looked = find_answers_file(args.answers)
    if source is None:
        print(f"No answers file found: looked for {' and '.join(map(str, looked))}. Answer a question in a notebook "
              f"first (they are saved in notebooks/answers.json), or name your file with --answers FILE or "
              f"${ANSWERS_VARIABLE}. Nothing was exported.", file=sys.stderr)
        return 1
    try:
        target, older = write_handin(args.export, source, include_model_answers=args.model_answers)
    except (ValueError, OSError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f"Wrote {target} (your answers from {source})"
          + (f"; the earlier file is kept as {older.name}" if older else ""))
    return 0
