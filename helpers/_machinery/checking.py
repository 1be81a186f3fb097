"""Exercise checking: running a student's function against a diagnosis, the check's widgets, the saved status.

An ``Exercise``'s diagnosis returns a ``Verdict`` or raises a ``Mistake`` (a typical wrong answer); ``run_check``
never raises, and saves ``exercise:<name>``: "done", "not done yet" or "tried: <what was wrong>".
"""

from __future__ import annotations

import ast
import contextlib
import functools
import html
import inspect
import linecache
import math
import numbers
import signal
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, NamedTuple, Sequence

import torch

from .answers import AnswerStore
from .widgets import markdown_widget, show_markdown

if TYPE_CHECKING:  # imported lazily at run time: the export needs no widgets
    import ipywidgets

NOT_DONE = "not done yet"
DONE = "done"


# ----------------------------------------------------------------------------- verdicts and diagnoses

class Verdict(NamedTuple):
    """What a check found for one function: "done", "stub" or "wrong", a Markdown message, a summary; ``adapted``:
    the function the notebook goes on with (the student's, its results turned into the form the next cells use)."""

    state: str
    message: str
    summary: str = ""
    adapted: Callable | None = None


class _NotDone(Exception):
    """The function is still the untouched template (``...``, ``pass`` or ``raise NotImplementedError``)."""


class _TooSlow(BaseException):
    """Raised into a student's function that ran past ``TIME_LIMIT`` (a BaseException: ``except Exception`` in
    their code cannot swallow it)."""


class Mistake(Exception):
    """A diagnosed mistake: ``summary`` (a few words, saved) and ``detail`` (what to look at, shown)."""

    def __init__(self, summary: str, detail: str):
        super().__init__(summary)
        self.verdict = Verdict("wrong", f"**{summary[:1].upper() + summary[1:]}** — {detail}", summary)


TIME_LIMIT = 10.0  # seconds one call of a student's function may run before the check stops it


def untouched(function: Callable) -> bool:
    """Is ``function`` still the template: a ``def`` whose body (after its docstring) is only ``...``, ``pass`` or
    ``raise NotImplementedError``?  Decided from its source, before it runs."""
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):  # no source (a builtin, code made by exec)
        return False
    if not isinstance(node, ast.FunctionDef):
        return False
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return all(isinstance(s, ast.Pass) or isinstance(s, ast.Expr) and getattr(s.value, "value", None) is Ellipsis
               or isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s) for s in body)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Stop the block with ``_TooSlow`` after ``seconds``: a timer signal on the main thread (Linux, macOS, Jupyter
    kernels), else a trace function (it stops Python loops, not one long C call such as ``time.sleep``)."""
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        def stop(_signum: int, _frame: Any) -> None:
            raise _TooSlow

        previous, began = signal.signal(signal.SIGALRM, stop), time.monotonic()
        pending, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if pending:  # someone else's timer was running: it goes on with what it had left
                signal.setitimer(signal.ITIMER_REAL, max(pending - (time.monotonic() - began), 1e-3), interval)
        return
    deadline, previous_trace = time.monotonic() + seconds, sys.gettrace()

    def trace(_frame: Any, _event: str, _arg: Any) -> Callable:
        if time.monotonic() > deadline:
            raise _TooSlow
        return trace

    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous_trace)


def call(function: Callable, *args: Any) -> Any:
    """The student's function applied to ``args``, stopped after ``TIME_LIMIT``; returning None or ``...`` is a
    Mistake with its reason (an untouched template never gets here: ``untouched``)."""
    try:
        with _time_limit(TIME_LIMIT):
            result = function(*args)
    except NotImplementedError as err:
        if _raised_in(err, function) and _no_source(function):
            raise _NotDone from None  # a template whose source cannot be read: still "not done yet"
        raise
    if result is None:
        if _no_source(function):
            raise _NotDone
        raise Mistake("returned None", "your function ends without `return`: return the value it computes")
    if result is Ellipsis:
        raise Mistake("still returns `...`", "replace the `...` after `return` with what your function computes")
    return result


def _no_source(function: Callable) -> bool:
    try:
        inspect.getsource(function)
    except (OSError, TypeError):
        return True
    return False


def _raised_in(err: BaseException, function: Callable) -> bool:
    """Was ``err`` raised by a line of ``function`` itself (not by something it called)?"""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is getattr(function, "__code__", None)


def _student_error(err: BaseException, function: Callable) -> Verdict:
    """The error as the student's: its type, message and the line of their cell that raised it."""
    text = textwrap.shorten(f"{type(err).__name__}: {err}", 300)
    filename = getattr(getattr(function, "__code__", None), "co_filename", None)
    tb, where = err.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            where = (tb.tb_lineno, linecache.getline(filename, tb.tb_lineno).strip())
        tb = tb.tb_next
    if where is None:  # raised by the check while it used what the function returned
        return Verdict("wrong", f"**What your function returned made the check fail:** `{text}`",
                       f"raised {type(err).__name__}")
    line = f", at line {where[0]} of its cell: `{where[1]}`" if where[1] else f" (line {where[0]})"
    return Verdict("wrong", f"**Your function raised an error**{line} — `{text}`", f"raised {type(err).__name__}")


def _judge(diagnose: Callable[[str, Callable], Verdict], name: str, function: Callable) -> Verdict:
    """Run one diagnosis; whatever the student's function does, return a Verdict (never raise)."""
    if untouched(function):
        return Verdict("stub", "")
    try:
        return diagnose(name, function)
    except _NotDone:
        return Verdict("stub", "")
    except Mistake as mistake:
        return mistake.verdict
    except _TooSlow:
        return Verdict("wrong", f"**Stopped after {TIME_LIMIT:g} s** — one call of your function ran that long "
                                "(the check's inputs are small: the reference takes milliseconds). Look for a loop "
                                "that does not end, or a `sleep`.", "ran too long")
    except Exception as err:  # the student's code raised: say what and where, never crash the notebook
        return _student_error(err, function)


def close(a: float, b: float, rel: float = 1e-5) -> bool:
    """a ≈ b, relative to their size (float32 rounding passes)."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def both(a: float, b: float) -> str:
    """"a and b" with enough digits that they differ when they differ (4 significant digits at least)."""
    for digits in range(4, 17):
        x, y = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if x != y or a == b:
            return f"{x} and {y}" if x != y else f"{x} and {y} (equal)"
    return f"{a!r} and {b!r}"


def number(value: Any, what: str, kind: type = float) -> tuple[float | int, bool]:
    """(``value`` as a Python float or int, whether it had to be converted): Python, NumPy and one-element tensor
    numbers all count; anything else is a Mistake saying what was returned instead."""
    converted = False
    if isinstance(value, torch.Tensor) or type(value).__module__ == "numpy":
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            raise Mistake(f"{what} is {size} numbers", f"your function returned `{value!r:.60}` (shape "
                                                       f"{list(value.shape)}); one number is asked for")
        value, converted = value.item(), True
    if isinstance(value, bool):
        raise Mistake(f"{what} is True/False", "your function returned a truth value, not a number")
    if not isinstance(value, numbers.Real):
        raise Mistake(f"{what} is not a number", f"your function returned a {type(value).__name__}")
    if kind is int:
        if not float(value).is_integer():
            raise Mistake(f"{what} is not a whole number", f"your function returned {value!r}; a count is whole")
        return int(value), converted or type(value) is not int
    return float(value), converted or type(value) is not float


def returning(function: Callable, convert: Callable[[Any], Any]) -> Callable:
    """``function`` with each result passed through ``convert``: what the notebook goes on with when the student's
    answer is right in value but not in the form the next cells use (a NumPy float, a 0-d tensor)."""
    @functools.wraps(function)
    def adapted(*args: Any, **kwargs: Any) -> Any:
        return convert(function(*args, **kwargs))
    return adapted


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
    """Save the status in the answers file (only when it changed, never back to "not done yet": re-running the
    template after an attempt keeps what the attempt found); the HTML of the note under the check."""
    try:
        store = AnswerStore(answers_path)
        key = f"exercise:{name}"
        saved = store.answers.get(key, NOT_DONE)
        if saved == status:
            return ""
        if status == NOT_DONE:
            return (f'<span style="color:#666">Your saved status stays: {html.escape(saved)} (an untouched template '
                    f'does not undo an attempt).</span>')
        error = store.save(key, status)
    except Exception as err:  # a path that cannot even be read: report, never crash the notebook
        error = str(err)
    if error:
        return f'<span style="color:#b00">⚠ The status was not saved: {html.escape(error)}.</span>'
    notice = f'<br><span style="color:#b00">⚠ {html.escape(store.notice)}</span>' if store.notice else ""
    return (f'<span style="color:#666">Saved in <code>{html.escape(store.path.name)}</code>: {html.escape(status)}.'
            f'</span>{notice}')


def run_check(exercise: Exercise, *functions: Callable, answers_path: Any = None, show: bool = True) -> Checked:
    """Check the student's function(s) for one exercise, show the verdict, save the status; never raises."""
    import ipywidgets as w

    if len(functions) != len(exercise.functions):
        raise TypeError(f"check.{exercise.name} takes {len(exercise.functions)} function(s): "
                        f"{', '.join(exercise.functions)}")
    verdicts = {fname: _judge(exercise.diagnose, fname, f) for fname, f in zip(exercise.functions, functions)}
    status = _status(verdicts)
    chosen = tuple((verdicts[fname].adapted or f) if verdicts[fname].state == "done" else ref
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
_COMMITTED: dict[tuple[str, str], str] = {}  # (answers file, id): committed this session, saved or not


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
        late = id in _MEASURED or f"{key}:measured" in AnswerStore(answers_path).answers  # this session, or saved
        errors = [store.save(key, radio.value), store.save(f"{key}:question", question),
                  store.save(f"{key}:committed_at", datetime.now().isoformat(timespec="seconds"))]
        if late:
            errors.append(store.save(f"{key}:note", "committed after the measurement was shown"))
        _COMMITTED[str(store.path), id] = radio.value
        saved = "" if not any(errors) else (f" ⚠ **Not saved in your answers file:** {next(e for e in errors if e)}. "
                                            "It is kept for this session only: note it down.")
        lock(radio.value, ("(After the measurement was shown: noted as such.)" if late else
                           "Now run the measurement below.") + saved)

    button.on_click(on_commit)
    if key in store.answers:
        lock(store.answers[key], "Your prediction is saved; the measurement below says how it went.")
    elif (str(store.path), id) in _COMMITTED:
        lock(_COMMITTED[str(store.path), id], "Your prediction is kept for this session (it could not be saved in your answers file).")
    box = w.VBox([markdown_widget(f"**Predict, then run:** {question}"), radio, button, status],
                 layout=w.Layout(width="100%"))
    box.radio, box.button, box.status, box.store = radio, button, status, store  # for code and tests
    return box


def prediction_result(id: str, measured_choice: str, explanation: str, answers_path: Any = None) -> ipywidgets.Output:
    """Say how a committed prediction went (notebook 05 §3), or that none was committed, then the explanation.
    The measurement is saved (with its time) where an answers file exists: a prediction committed later, after a
    restart too, is noted as late."""
    _MEASURED.add(id)
    store, key = AnswerStore(answers_path), f"prediction:{id}"
    predicted = store.answers.get(key, _COMMITTED.get((str(store.path), id)))
    unsaved = " (committed, but not saved in your answers file)" if key not in store.answers and predicted else ""
    if store.path.exists() and store.answers.get(f"{key}:measured") != measured_choice:
        store.save(f"{key}:measured", measured_choice)
        store.save(f"{key}:measured_at", datetime.now().isoformat(timespec="seconds"))
    if predicted is None:
        text = (f"You did not commit a prediction (fine when the notebook runs unattended). "
                f"The run measured: **{measured_choice}**.")
    else:
        verdict = "✓ as you predicted." if predicted == measured_choice else "✗ not what you predicted: see why below."
        text = f"You predicted **{predicted}**{unsaved}; the run measured **{measured_choice}** — {verdict}"
    out = markdown_widget(f"{text}\n\n{explanation}")
    out.text = text  # for code and tests
    return out
