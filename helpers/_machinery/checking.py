"""Exercise checking: running a student's function against a diagnosis, the check's widgets, the saved status.

An ``Exercise``'s diagnosis returns a ``Verdict`` or raises a ``Mistake`` (a typical wrong answer); ``run_check``
never raises, and saves ``exercise:<name>``: "done", "not done yet" or "tried: <what was wrong>".
"""

from __future__ import annotations

import html
import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

import torch

from .answers import AnswerStore
from .widgets import markdown_widget, show_markdown

if TYPE_CHECKING:  # imported lazily at run time: the export needs no widgets
    import ipywidgets

NOT_DONE = "not done yet"
DONE = "done"


# ----------------------------------------------------------------------------- verdicts and diagnoses

class Verdict(NamedTuple):
    """What a check found for one function: state "done", "stub" or "wrong", a Markdown message, a summary."""

    state: str
    message: str
    summary: str = ""


class _NotDone(Exception):
    """The function is still a stub (``...``, ``None`` or ``NotImplementedError``)."""


class Mistake(Exception):
    """A diagnosed mistake: ``summary`` (a few words, saved) and ``detail`` (what to do, shown)."""

    def __init__(self, summary: str, detail: str):
        super().__init__(summary)
        self.verdict = Verdict("wrong", f"**{summary[:1].upper() + summary[1:]}** — {detail}", summary)


def call(function: Callable, *args: Any) -> Any:
    """The student's function applied to ``args``; a stub raises ``_NotDone``."""
    try:
        result = function(*args)
    except NotImplementedError:
        raise _NotDone("") from None
    if result is None or result is Ellipsis:
        raise _NotDone("returned None: if you wrote it, did you forget `return`?" if result is None else "")
    return result


def _judge(diagnose: Callable[[str, Callable], Verdict], name: str, function: Callable) -> Verdict:
    """Run one diagnosis; whatever the student's function does, return a Verdict (never raise)."""
    try:
        return diagnose(name, function)
    except _NotDone as stub:
        return Verdict("stub", str(stub))
    except Mistake as mistake:
        return mistake.verdict
    except Exception as err:  # the student's code raised: say what, never crash the notebook
        text = textwrap.shorten(f"{type(err).__name__}: {err}", 300)
        return Verdict("wrong", f"**Your function raised an error:** `{text}`", f"raised {type(err).__name__}")


def close(a: float, b: float, rel: float = 1e-5) -> bool:
    """a ≈ b, relative to their size (float32 rounding passes)."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def number(value: Any, what: str, kind: type = float) -> float:
    """``value`` as a Python number, or a Mistake saying what was returned instead."""
    if isinstance(value, torch.Tensor):
        raise Mistake(f"{what} is a tensor", f"your function returned `{value!r:.60}`; `.item()` turns a one-element "
                                             f"tensor into a Python {kind.__name__}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Mistake(f"{what} is not a number", f"your function returned a {type(value).__name__}")
    return float(value)


def match(value: Any, candidates: Sequence[tuple[Any, str, str]], same: Callable[[Any, Any], bool]) -> None:
    """Raise the Mistake of the first typical wrong answer that ``value`` equals."""
    for wrong, summary, detail in candidates:
        if wrong is not None and same(value, wrong):
            raise Mistake(summary, detail)


def constant_factor(mine: torch.Tensor, reference: torch.Tensor) -> float | None:
    """c ≠ 1 if mine = c × reference everywhere (a constant factor too many or too few), else None."""
    big = reference.abs() > 1e-3
    if not big.any():
        return None
    c = (mine[big] / reference[big]).median().item()
    return c if abs(c - 1) > 1e-3 and torch.allclose(mine, c * reference, rtol=1e-4, atol=1e-6) else None


# ----------------------------------------------------------------------------- exercises

@dataclass(frozen=True)
class Exercise:
    """One exercise: its notebook, what the student writes, the reference, hints and the diagnosis."""

    name: str
    notebook: str
    title: str
    functions: tuple[str, ...]  # the names the stub defines, in the order the check takes them
    references: tuple[Callable, ...]  # one per function: what the notebook uses when the student's is not right
    library: str  # where the reference lives (Markdown), for the messages
    hints: tuple[str, ...]
    diagnose: Callable[[str, Callable], Verdict]


# ----------------------------------------------------------------------------- running a check

@dataclass
class Checked:
    """The result of one check: what the notebook should use, the verdicts, and the widgets (for tests)."""

    name: str
    status: str
    functions: tuple[Callable, ...]
    verdicts: dict[str, Verdict]
    box: ipywidgets.VBox
    message: ipywidgets.Output
    hint_button: ipywidgets.Button
    hints: ipywidgets.Output
    note: ipywidgets.HTML
    hints_shown: int = 0


def _status(verdicts: Mapping[str, Verdict]) -> str:
    """"done", "not done yet" or "tried: <what was wrong>" for the answers file."""
    states = {v.state for v in verdicts.values()}
    if states == {"done"}:
        return DONE
    if states == {"stub"}:
        return NOT_DONE
    parts = [(f"{name}: " if len(verdicts) > 1 else "") + (v.summary if v.state == "wrong" else NOT_DONE)
             for name, v in verdicts.items() if v.state != "done"]
    return "tried: " + "; ".join(parts)


def _message(exercise: Exercise, verdicts: Mapping[str, Verdict]) -> str:
    """The widget's Markdown: one line per function, then what the notebook goes on with."""
    several = len(verdicts) > 1
    lines = [f"**Check: {exercise.title}**"]
    for name, v in verdicts.items():
        prefix = f"`{name}`: " if several else ""
        if v.state == "stub":
            why = f" (Your function {v.message})" if v.message else ""
            lines.append(f"{prefix}**Not done yet** — the notebook goes on with the library's version.{why}")
        else:
            lines.append(f"{'✓' if v.state == 'done' else '✗'} {prefix}{v.message}")
    if any(v.state == "wrong" for v in verdicts.values()):
        lines.append(f"Not right yet, so the notebook goes on with the library's version ({exercise.library}). "
                     "Fix your function and run its cell and this one again.")
    return "\n\n".join(lines)


def _record(name: str, status: str, answers_path: Any) -> str:
    """Save the status in the answers file (only when it changed); the HTML of the note under the check."""
    try:
        store = AnswerStore(answers_path)
        key = f"exercise:{name}"
        if store.answers.get(key, NOT_DONE) == status:
            return ""
        error = store.save(key, status)
    except Exception as err:  # a path that cannot even be read: report, never crash the notebook
        error = str(err)
    if error:
        return f'<span style="color:#b00">⚠ The status was not saved: {html.escape(error)}.</span>'
    return f'<span style="color:#666">Saved in <code>{html.escape(store.path.name)}</code>: {html.escape(status)}.</span>'


def run_check(exercise: Exercise, *functions: Callable, answers_path: Any = None, show: bool = True) -> Checked:
    """Check the student's function(s) for one exercise, show the verdict, save the status; never raises."""
    import ipywidgets as w

    if len(functions) != len(exercise.functions):
        raise TypeError(f"check.{exercise.name} takes {len(exercise.functions)} function(s): "
                        f"{', '.join(exercise.functions)}")
    verdicts = {fname: _judge(exercise.diagnose, fname, f) for fname, f in zip(exercise.functions, functions)}
    status = _status(verdicts)
    chosen = tuple(f if verdicts[fname].state == "done" else ref
                   for fname, f, ref in zip(exercise.functions, functions, exercise.references))
    message, hints = markdown_widget(_message(exercise, verdicts)), markdown_widget(None)
    button = w.Button(description="Show a hint", layout=w.Layout(width="auto"))
    note = w.HTML(value=_record(exercise.name, status, answers_path))
    box = w.VBox([message, button, hints, note], layout=w.Layout(width="100%"))
    checked = Checked(exercise.name, status, chosen, verdicts, box, message, button, hints, note)
    hints_text = [f"**Hint {i + 1}.** {h}" for i, h in enumerate(exercise.hints)]

    def show_next_hint(_button: Any) -> None:  # all shown: the button is disabled
        checked.hints_shown = min(checked.hints_shown + 1, len(hints_text))
        show_markdown(hints, "\n\n".join(hints_text[:checked.hints_shown]))
        if checked.hints_shown == len(hints_text):
            button.disabled, button.description = True, "No more hints"

    button.on_click(show_next_hint)
    if show:
        from IPython.display import display

        display(checked.box)
    return checked


# ----------------------------------------------------------------------------- predict, then run

_MEASURED: set[str] = set()  # ids whose measurement this session has already shown


def predict(id: str, question: str, choices: Sequence[str], answers_path: Any = None) -> ipywidgets.VBox:
    """Ask for a prediction before a measurement (notebook 05 §3), saved and then locked (shown again on a re-run)."""
    import ipywidgets as w

    store, key = AnswerStore(answers_path), f"prediction:{id}"
    radio = w.RadioButtons(options=list(choices), value=None, layout=w.Layout(width="100%"))
    button = w.Button(description="Commit my prediction", layout=w.Layout(width="auto"))
    status = markdown_widget(None)

    def lock(choice: str, note: str) -> None:
        radio.value = choice if choice in radio.options else None
        radio.disabled = button.disabled = True
        show_markdown(status, f"Committed: **{choice}**. {note}")

    def on_commit(_button: Any) -> None:
        if radio.value is None:
            show_markdown(status, "Choose one first.")
            return
        late = id in _MEASURED
        errors = [store.save(key, radio.value), store.save(f"{key}:question", question)]
        if late:
            errors.append(store.save(f"{key}:note", "committed after the measurement was shown"))
        saved = "" if not any(errors) else f" ⚠ Not saved: {next(e for e in errors if e)}."
        lock(radio.value, ("(After the measurement was shown: noted as such.)" if late else
                           "Now run the measurement below.") + saved)

    button.on_click(on_commit)
    if key in store.answers:
        lock(store.answers[key], "Your prediction is saved; the measurement below says how it went.")
    box = w.VBox([markdown_widget(f"**Predict, then run:** {question}"), radio, button, status],
                 layout=w.Layout(width="100%"))
    box.radio, box.button, box.status, box.store = radio, button, status, store  # for code and tests
    return box


def prediction_result(id: str, measured_choice: str, explanation: str, answers_path: Any = None) -> ipywidgets.Output:
    """Say how a committed prediction went (notebook 05 §3), or that none was committed, then the explanation."""
    _MEASURED.add(id)
    store, key = AnswerStore(answers_path), f"prediction:{id}"
    predicted = store.answers.get(key)
    if predicted is None:
        text = (f"You did not commit a prediction (fine when the notebook runs unattended). "
                f"The run measured: **{measured_choice}**.")
    else:
        verdict = "✓ as you predicted." if predicted == measured_choice else "✗ not what you predicted: see why below."
        text = f"You predicted **{predicted}**; the run measured **{measured_choice}** — {verdict}"
        if store.answers.get(f"{key}:measured") != measured_choice:
            store.save(f"{key}:measured", measured_choice)
    out = markdown_widget(f"{text}\n\n{explanation}")
    out.text = text  # for code and tests
    return out
