"""Viva (oral exam) questions: the texts live once, in ``viva_questions.json``; this module shows them.

In a notebook, ``viva.ask(["role", "ranges"])`` shows interactive questions: type an answer (saved
in answers.json), try the self-check, then reveal the model answer.  Markdown and $math$ are shown
by ``ipywidgets.Output`` widgets, which the front end (JupyterLab, Colab) renders itself.
``python -m helpers.viva --export out.md`` writes your answers, and the status of every "Your turn"
exercise (``helpers/exercises.py`` saves it in the same file).  Each notebook's appendix of
questions and model answers, for GitHub readers, is written by ``python -m tools.notebooks --sync``.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .files import atomic_write_text, locked
from .frontend import warn_if_mismatched

if TYPE_CHECKING:  # imported lazily at run time: the command line needs no widgets
    import ipywidgets

QUESTIONS_FILE = Path(__file__).with_name("viva_questions.json")
NOTEBOOKS = ("01", "02", "03", "04", "05", "06")
ANSWERS_VARIABLE = "LAB_ANSWERS"  # names the answers file instead of ./answers.json
DEFAULT_ANSWERS = "answers.json"
# Where the notebooks save by default (their kernels run in notebooks/): the command line looks there too.
NOTEBOOK_ANSWERS = Path(__file__).resolve().parent.parent / "notebooks" / DEFAULT_ANSWERS
NO_ANSWER = "_(no answer yet)_"
MAX_ANSWERS_BYTES = 5_000_000  # typed answers take a few kB: a larger file is not an answers file
PENDING = "_(In the notebook, this first part is built from your own run: see the question's widget.)_"


# ----------------------------------------------------------------------------- questions

@lru_cache(maxsize=1)
def _questions() -> tuple[dict, ...]:
    """The questions as read from the JSON file, checked once."""
    with open(QUESTIONS_FILE, encoding="utf-8") as f:
        data = json.load(f)
    problems = validate_questions(data)
    if problems:
        raise ValueError(f"{QUESTIONS_FILE.name} is invalid:\n  " + "\n  ".join(problems))
    return tuple(data)


def validate_questions(data: Any) -> list[str]:
    """Problems in a question list (empty if it is well formed)."""
    if not isinstance(data, list):
        return ["the file must hold one JSON list"]
    problems, seen = [], set()
    for i, q in enumerate(data):
        where = f"entry {i} ({q.get('id', '?') if isinstance(q, dict) else '?'})"
        if not isinstance(q, dict):
            problems.append(f"{where}: not an object")
            continue
        for key in ("id", "notebook", "question", "answer"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                problems.append(f"{where}: '{key}' must be a non-empty string")
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
        for name in q.get("placeholders", []):
            if "{" + name + "}" not in q.get("answer", ""):
                problems.append(f"{where}: placeholder {{{name}}} is not in the answer")
    return problems


def load_questions() -> list[dict]:
    """Every question of the lab, in notebook order (a copy: changing it changes nothing)."""
    return copy.deepcopy(list(_questions()))


def question(id: str) -> dict:
    """One question by id; a KeyError lists the valid ids."""
    for q in _questions():
        if q["id"] == id:
            return copy.deepcopy(q)
    valid = ", ".join(q["id"] for q in _questions())
    raise KeyError(f"Unknown viva question {id!r}. Valid ids: {valid}")


def questions_for(notebook: str) -> list[dict]:
    """The questions of one notebook ("01" ... "06"), in file order."""
    return [q for q in load_questions() if q["notebook"] == str(notebook).zfill(2)]


def answer_text(q: dict, fill: Mapping[str, Any] | None = None) -> str:
    """A question's model answer; a templated one is filled from ``fill`` or marked as pending."""
    names = q.get("placeholders", [])
    text = q["answer"]
    if not names:
        return text
    if fill is None:  # drop the paragraphs that need measured numbers, once replaced by a note
        kept, noted = [], False
        for block in text.split("\n\n"):
            if any("{" + n + "}" in block for n in names):
                if not noted:
                    kept.append(PENDING)
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
    """Fill values for the "best" question from {activation: final test accuracy} (fractions or %)."""
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
    """A model answer in a collapsed ``<details>`` block: readers of exports and appendices think first."""
    return f"<details><summary>Model answer</summary>\n\n{answer_text(q, fill)}\n\n</details>"


# ----------------------------------------------------------------------------- answers file

def answers_file(answers_path: str | Path | None = None) -> Path:
    """Where typed answers are saved: ``answers_path``, else $LAB_ANSWERS, else ./answers.json."""
    if answers_path is None:
        answers_path = os.environ.get(ANSWERS_VARIABLE) or DEFAULT_ANSWERS
    return Path(answers_path).expanduser().absolute()


def find_answers_file(answers_path: str | Path | None = None) -> tuple[Path | None, list[Path]]:
    """(the file found or None, the places looked): the one named, else $LAB_ANSWERS, else ./answers.json,
    else <repo>/notebooks/answers.json, where the notebooks save (for ``--export`` run from anywhere)."""
    if answers_path is not None or os.environ.get(ANSWERS_VARIABLE):
        places = [answers_file(answers_path)]
    else:
        places = list(dict.fromkeys([answers_file(), NOTEBOOK_ANSWERS]))  # one place when run in notebooks/
    return next((p for p in places if p.exists()), None), places


def read_answers(path: str | Path) -> tuple[dict[str, str], str | None]:
    """(answers, problem): the saved answers, or {} and a description of why they can't be read."""
    entries, problem = _read_entries(Path(path))
    return {k: v for k, v in entries.items() if isinstance(v, str)}, problem


def _read_entries(path: Path) -> tuple[dict[str, Any], str | None]:
    """(every entry, problem) of an answers file, answers or not; {} and why, if it can't be read as one."""
    size = _too_large(path)
    if size is not None:
        return {}, (f"{path} is {size / 1e6:.0f} MB, far larger than an answers file can be (at most "
                    f"{MAX_ANSWERS_BYTES / 1e6:.0f} MB), so it is not read as one")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as err:
        return {}, f"could not read {path}: {err}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return {}, f"{path} is not valid JSON ({err})"
    if not isinstance(data, dict):
        return {}, f"{path} does not hold a JSON object of answers"
    return {str(k): v for k, v in data.items()}, None


def _too_large(path: Path) -> int | None:
    """The size of ``path`` if it is far larger than an answers file could be (a stat, no reading), else None."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return size if size > MAX_ANSWERS_BYTES else None


class AnswerStore:
    """A student's typed answers, merged into a JSON file after every change.

    Several kernels (notebooks) may save into one file at the same time: each save takes the file's
    lock (``files.locked``), re-reads the file and adds its one answer, so no one's answer is lost.
    Entries that are not answers (not strings) are kept as they are.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = answers_file(path)
        self.answers, self.problem = read_answers(self.path)
        self.refused = _too_large(self.path) is not None  # never read, never overwritten
        self.backup: Path | None = None

    def save(self, qid: str, text: str) -> str | None:
        """Save one answer atomically; returns None, or a message saying why it could not be saved."""
        self.answers[qid] = text
        if _too_large(self.path) is not None:
            return (f"{self.path} is far larger than an answers file and was left alone: move it away, or set "
                    f"{ANSWERS_VARIABLE} to another file")
        try:
            with locked(self.path):
                self._merge(qid, text)
        except Exception as err:  # a read-only folder, a full disk...: report, never crash
            return f"could not save to {self.path}: {err}"
        self.problem = None
        return None

    def _merge(self, qid: str, text: str) -> None:
        """Under the lock: re-read the file, add this answer to what it holds, write it back atomically."""
        on_disk, problem = _read_entries(self.path)
        if problem is not None and self.path.exists():  # keep the unreadable file before replacing it
            self.backup = self.path.with_name(self.path.name + ".bak")
            shutil.copy2(self.path, self.backup)
            on_disk = dict(self.answers)
        merged = {**on_disk, qid: text}
        atomic_write_text(self.path, json.dumps(merged, indent=1, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------- widgets

@dataclass
class QuestionWidgets:
    """The widgets of one question, so code and tests can reach them by name."""

    id: str
    box: ipywidgets.VBox
    question: ipywidgets.Output
    textarea: ipywidgets.Textarea
    reveal: ipywidgets.Button
    answer: ipywidgets.Output
    skip: ipywidgets.Button | None = None  # "Show without answering"
    radio: ipywidgets.RadioButtons | None = None
    check: ipywidgets.Button | None = None
    feedback: ipywidgets.Output | None = None


def show_markdown(out: ipywidgets.Output, text: str | None) -> None:
    """Make an Output widget show one Markdown text (None: nothing); the front end renders it and its math.

    The outputs are replaced in one step (no IPython shell needed, so it also works headless in
    tests, where ``out.outputs`` holds what is shown); the same in ipywidgets 7.7 (Colab) and 8.
    """
    bundle = {"output_type": "display_data", "data": {"text/markdown": text, "text/plain": text}, "metadata": {}}
    out.outputs = () if text is None else (bundle,)


def markdown_widget(text: str | None = None, **layout: Any) -> ipywidgets.Output:
    """An Output widget showing ``text`` as Markdown, with the given layout settings."""
    import ipywidgets as w

    warn_if_mismatched()  # ipywidgets and JupyterLab's widget front end must match
    out = w.Output(layout=w.Layout(**{"width": "100%", **layout}))
    show_markdown(out, text)
    return out


def _status_html(store: AnswerStore, error: str | None = None) -> str:
    """The status line under the questions: where answers go, or what went wrong."""
    where = html.escape(str(store.path))
    if error:
        return f'<span style="color:#b00">⚠ Your answer was not saved: {html.escape(error)}. Copy it somewhere safe.</span>'
    if store.problem and store.refused:
        return (f'<span style="color:#b00">⚠ {html.escape(store.problem)}. Your answers will not be saved there: '
                f'move that file away, or set {ANSWERS_VARIABLE} to another file, and run this cell again.</span>')
    if store.problem:
        return (f'<span style="color:#b00">⚠ {html.escape(store.problem)}. Starting with empty answers; the file is '
                f'left alone until you type, then kept as <code>{where}.bak</code>.</span>')
    note = f" (the unreadable old file was kept as <code>{html.escape(str(store.backup))}</code>)" if store.backup else ""
    return f'<span style="color:#666">Your answers are saved in <code>{where}</code>{note}.</span>'


def _question_widgets(q: dict, fill: Mapping[str, Any] | None, store: AnswerStore,
                      status: ipywidgets.HTML) -> QuestionWidgets:
    """Build and wire the widgets of one question."""
    import ipywidgets as w

    title = markdown_widget(f"**Viva:** {q['question']}")
    textarea = w.Textarea(value=store.answers.get(q["id"], ""), placeholder="Write your own answer first...",
                          layout=w.Layout(width="100%", height="7em"))
    # Think first: the model answer opens once something is written, or on an explicit "show without answering".
    reveal = w.Button(description="Show model answer", layout=w.Layout(width="auto"),
                      disabled=not textarea.value.strip(), tooltip="Write your own answer first")
    skip = w.Button(description="Show without answering", layout=w.Layout(width="auto"))
    answer = markdown_widget(None, display="none")
    answer_md = answer_text(q, fill)
    items = QuestionWidgets(q["id"], w.VBox(), title, textarea, reveal, answer)

    def on_text(change: dict) -> None:
        status.value = _status_html(store, store.save(q["id"], change["new"]))
        reveal.disabled = not change["new"].strip()

    def show(visible: bool) -> None:
        show_markdown(answer, answer_md if visible else None)
        answer.layout.display = None if visible else "none"
        reveal.description = "Hide model answer" if visible else "Show model answer"
        skip.layout.display = "none" if visible else None

    def on_reveal(_button: Any) -> None:
        show(answer.layout.display == "none")

    textarea.observe(on_text, names="value")
    reveal.on_click(on_reveal)
    skip.on_click(lambda _button: show(True))
    children: list[Any] = [title, textarea]
    if "choices" in q:
        items.radio = w.RadioButtons(options=[(c, i) for i, c in enumerate(q["choices"])], value=None,
                                     layout=w.Layout(width="100%"))
        items.check = w.Button(description="Check", layout=w.Layout(width="auto"))
        items.feedback = markdown_widget(None)
        items.check.on_click(lambda _b: _check(q, items))
        children += [w.HTML(value="<i>Self-check:</i>"), items.radio, items.check, items.feedback]
    items.box.children = tuple(children + [w.HBox([reveal, skip]), answer])
    items.skip = skip
    return items


def _check(q: dict, items: QuestionWidgets) -> None:
    """Put the self-check's verdict into the feedback widget."""
    assert items.radio is not None and items.feedback is not None
    chosen = items.radio.value
    if chosen is None:
        show_markdown(items.feedback, "Choose an answer first.")
    elif chosen == q["correct"]:
        why = q.get("feedback") or q["choices"][q["correct"]]
        show_markdown(items.feedback, f"✅ **Correct** — {why}")
    else:
        show_markdown(items.feedback, "❌ **Not quite** — think again, or compare with the model answer.")


def ask(ids: Sequence[str], fill: Mapping[str, Any] | None = None,
        answers_path: str | Path | None = None) -> ipywidgets.VBox:
    """Interactive viva questions; the box's ``.items`` maps each id to its QuestionWidgets."""
    import ipywidgets as w

    questions = [question(i) for i in ids]  # unknown ids fail here, before any widget appears
    store = AnswerStore(answers_path)
    status = w.HTML(value=_status_html(store))
    items = {q["id"]: _question_widgets(q, fill, store, status) for q in questions}
    children: list[Any] = []
    for qw in items.values():
        if children:
            children.append(w.HTML(value="<hr style='margin:4px 0'>"))
        children.append(qw.box)
    box = w.VBox(children + [status], layout=w.Layout(width="100%"))
    box.items = items  # plain attributes for code and tests; not synced to the browser
    box.status = status
    box.store = store
    return box


# ----------------------------------------------------------------------------- export

def export_markdown(answers: Mapping[str, str], fill_by_id: Mapping[str, Mapping[str, Any]] | None = None,
                    include_model_answers: bool = False) -> str:
    """Every question of the lab, notebook by notebook, each followed by the student's answer; then the exercises."""
    from .exercises import export_lines  # imported here: exercises imports this module

    fill_by_id = fill_by_id or {}
    lines = ["# My viva answers", "", f"_Exported {datetime.now():%Y-%m-%d %H:%M}._"]
    number = 0
    for notebook in NOTEBOOKS:
        qs = questions_for(notebook)
        if qs:
            lines += ["", f"## Notebook {notebook}"]
        for q in qs:
            number += 1
            text = (answers.get(q["id"]) or "").strip()
            lines += ["", f"### {number}. {q['question']}", "", text or NO_ANSWER]
            if include_model_answers:
                lines += ["", model_answer_details(q, fill_by_id.get(q["id"]))]
    return "\n".join(lines + export_lines(answers)) + "\n"


def export_answers(path_md: str | Path = "my_viva_answers.md", answers_path: str | Path | None = None,
                   fill_by_id: Mapping[str, Mapping[str, Any]] | None = None,
                   include_model_answers: bool = False) -> Path:
    """Write all questions and your answers to one Markdown file (atomically); returns its path."""
    source = answers_file(answers_path)
    answers, problem = read_answers(source)
    if problem:
        raise ValueError(f"Cannot export: {problem}. Fix or remove that file first.")
    target = Path(path_md).expanduser().absolute()
    atomic_write_text(target, export_markdown(answers, fill_by_id, include_model_answers))
    return target


def export_button(path_md: str | Path = "my_viva_answers.md", answers_path: str | Path | None = None,
                  fill_by_id: Mapping[str, Mapping[str, Any]] | None = None) -> ipywidgets.VBox:
    """A button that exports your answers to Markdown, with a status line saying where they went."""
    import ipywidgets as w

    button = w.Button(description="Export my answers", icon="download", layout=w.Layout(width="auto"))
    status = w.HTML(value="")

    def on_click(_button: Any) -> None:
        from .exercises import EXERCISES, exercises_done  # imported here: exercises imports this module

        try:
            target = export_answers(path_md, answers_path, fill_by_id)
            answers, _ = read_answers(answers_file(answers_path))
            done = sum(1 for q in _questions() if (answers.get(q["id"]) or "").strip())
            status.value = (f"Wrote <code>{html.escape(str(target))}</code>: "
                            f"{done} of {len(_questions())} questions answered, "
                            f"{exercises_done(answers)} of {len(EXERCISES)} exercises done." + _colab_download(target))
        except Exception as err:  # never crash the notebook; say what happened instead
            status.value = f'<span style="color:#b00">⚠ Export failed: {html.escape(str(err))}</span>'

    button.on_click(on_click)
    box = w.VBox([button, status])
    box.button = button
    box.status = status
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
    """``--export`` every question and your answers to Markdown (for handing in)."""
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


if __name__ == "__main__":
    sys.exit(main())
