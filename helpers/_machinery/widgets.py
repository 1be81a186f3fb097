"""Widget plumbing: Markdown in Output widgets, the viva question's widgets, and the front-end check.

Markdown and $math$ go into ``ipywidgets.Output`` widgets, which the front end renders.  ipywidgets 7.x needs
JupyterLab's jupyterlab_widgets 1.x, 8.x needs 3.x, and pip may pair them wrongly (ipywidgets <= 7.7 does not say
so): ``markdown_widget`` calls ``warn_if_mismatched()``, which shows the fix once per kernel (not on Colab).
"""

from __future__ import annotations

import contextlib
import html
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .answers import ANSWERS_VARIABLE, AnswerStore

if TYPE_CHECKING:  # imported lazily at run time: the command line needs no widgets
    import ipywidgets

_checked = False


def _version(package: str) -> str | None:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(package)
    return None


def mismatch(ipywidgets_version: str | None, jupyterlab_widgets_version: str | None) -> str | None:
    """The Markdown message for a mismatched pair, or None when they match (or one is not installed here)."""
    try:
        kernel, front = (int(v.split(".")[0]) for v in (ipywidgets_version, jupyterlab_widgets_version))
    except (AttributeError, ValueError):  # not installed here (JupyterLab may run from elsewhere), or unreadable
        return None
    if kernel == 7 and front >= 3:
        fix, kernel_front = '"jupyterlab_widgets>=1.1.11,<3"', 8
        other = ' Or move to ipywidgets 8: `python -m pip install --upgrade "ipywidgets>=8"`.'
    elif kernel >= 8 and front < 3:
        fix, kernel_front, other = '"jupyterlab_widgets>=3,<4"', 7, ""
    else:
        return None
    return (f"⚠ **The widgets below will not show in JupyterLab:** this environment has ipywidgets "
            f"{ipywidgets_version} with jupyterlab_widgets {jupyterlab_widgets_version}, which draws the widgets "
            f"of ipywidgets {kernel_front} (JupyterLab then says \"Failed to load model class …\"). To fix it, run "
            f"this in the environment that runs JupyterLab, then restart JupyterLab and reload the page:\n\n"
            f"    python -m pip install {fix}\n\n"
            f"{other.strip()} The notebook's computations are not affected.".strip())


def warn_if_mismatched() -> None:
    """Show the mismatch message once per kernel (not on Colab, whose front end is its own)."""
    global _checked
    if _checked or "google.colab" in sys.modules:
        return
    _checked = True
    message = mismatch(_version("ipywidgets"), _version("jupyterlab_widgets"))
    if message is None:
        return
    with contextlib.suppress(ImportError):
        from IPython import get_ipython
        from IPython.display import Markdown, display
        if get_ipython() is not None:
            display(Markdown(message))
            return
    print(message.replace("**", ""), file=sys.stderr)


# ----------------------------------------------------------------------------- Markdown in a widget

def show_markdown(out: ipywidgets.Output, text: str | None) -> None:
    """Show Markdown (None: nothing) in ``out`` by setting its outputs: works headless (tests), ipywidgets 7 and 8."""
    bundle = {"output_type": "display_data", "data": {"text/markdown": text, "text/plain": text}, "metadata": {}}
    out.outputs = () if text is None else (bundle,)


def markdown_widget(text: str | None = None, **layout: Any) -> ipywidgets.Output:
    """An Output widget showing ``text`` as Markdown, with the given layout settings."""
    import ipywidgets as w

    warn_if_mismatched()  # ipywidgets and JupyterLab's widget front end must match
    out = w.Output(layout=w.Layout(**{"width": "100%", **layout}))
    show_markdown(out, text)
    return out


# ----------------------------------------------------------------------------- one viva question

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


def answers_status(store: AnswerStore, error: str | None = None) -> str:
    """The status line's HTML under a cell's questions: where answers go, or what went wrong."""
    where = html.escape(str(store.path))
    notice = (f'<br><span style="color:#b00">⚠ {html.escape(store.notice)}</span>' if store.notice else "")
    if error and store.waiting:
        return (f'<span style="color:#b00">⚠ Not saved yet: {html.escape(error)}.</span>{notice}')
    if error:
        return (f'<span style="color:#b00">⚠ Your answer was not saved: {html.escape(error)}. Copy it somewhere '
                f'safe.</span>{notice}')
    if store.problem and store.refused:
        return (f'<span style="color:#b00">⚠ {html.escape(store.problem)}. Your answers will not be saved there: '
                f'move that file away, or set {ANSWERS_VARIABLE} to another file, and run this cell again.</span>')
    if store.problem:
        return (f'<span style="color:#b00">⚠ {html.escape(store.problem)}. What could be read is shown; the file is '
                f'left alone until you type, then kept under a new name beside it (never overwritten).</span>')
    return f'<span style="color:#666">Your answers are saved in <code>{where}</code>.</span>{notice}'


def question_widgets(q: dict, answer_md: str, store: AnswerStore, status: ipywidgets.HTML) -> QuestionWidgets:
    """One question's widgets: its answer, saved at every change, and ``answer_md`` once written or skipped."""
    import ipywidgets as w

    observation = q.get("kind") == "observation"  # the practical's observations: read from your own run
    title = markdown_widget(f"**{'Your observation' if observation else 'Viva'}:** {q['question']}")
    hint = ("Write 2–3 sentences from your own plots and tables first..." if observation
            else "Write your own answer first...")
    textarea = w.Textarea(value=store.answers.get(q["id"], ""), placeholder=hint,
                          layout=w.Layout(width="100%", height="7em"))
    reveal = w.Button(description="Show model answer", layout=w.Layout(width="auto"),
                      disabled=not textarea.value.strip(), tooltip="Write your own answer first")
    skip = w.Button(description="Show without answering", layout=w.Layout(width="auto"))
    answer = markdown_widget(None, display="none")
    items = QuestionWidgets(q["id"], w.VBox(), title, textarea, reveal, answer, skip)

    def on_text(change: dict) -> None:
        status.value = answers_status(store, store.save(q["id"], change["new"]))
        reveal.disabled = not change["new"].strip()

    def show(visible: bool) -> None:
        show_markdown(answer, answer_md if visible else None)
        answer.layout.display = None if visible else "none"
        reveal.description = "Hide model answer" if visible else "Show model answer"
        skip.layout.display = "none" if visible else None

    textarea.observe(on_text, names="value")
    reveal.on_click(lambda _button: show(answer.layout.display == "none"))
    skip.on_click(lambda _button: show(True))
    children: list[Any] = [title, textarea]
    if "choices" in q:
        items.radio = w.RadioButtons(options=[(c, i) for i, c in enumerate(q["choices"])], value=None,
                                     layout=w.Layout(width="100%"))
        items.check = w.Button(description="Check", layout=w.Layout(width="auto"))
        items.feedback = markdown_widget(None)
        items.check.on_click(lambda _b: _self_check(q, items))
        children += [w.HTML(value="<i>Self-check:</i>"), items.radio, items.check, items.feedback]
    items.box.children = tuple(children + [w.HBox([reveal, skip]), answer])
    return items


def questions_box(questions: Sequence[tuple[dict, str]], store: AnswerStore) -> ipywidgets.VBox:
    """A box of viva questions, each (question, model answer in Markdown), and the status line under them.
    ``items`` (id: QuestionWidgets), ``status`` and ``store`` are plain attributes (for code and tests)."""
    import ipywidgets as w

    status = w.HTML(value=answers_status(store))
    store.on_saved = lambda: setattr(status, "value", answers_status(store))  # a save that waited for a lock
    items = {q["id"]: question_widgets(q, answer_md, store, status) for q, answer_md in questions}
    children: list[Any] = []
    for qw in items.values():
        children += [w.HTML(value="<hr style='margin:4px 0'>"), qw.box] if children else [qw.box]
    box = w.VBox(children + [status], layout=w.Layout(width="100%"))
    box.items, box.status, box.store = items, status, store
    return box


def _self_check(q: Mapping[str, Any], items: QuestionWidgets) -> None:
    """Put the self-check's verdict into the feedback widget."""
    assert items.radio is not None and items.feedback is not None
    chosen = items.radio.value
    if chosen is None:
        show_markdown(items.feedback, "Choose an answer first.")
    elif chosen == q["correct"]:
        show_markdown(items.feedback, f"✅ **Correct** — {q.get('feedback') or q['choices'][q['correct']]}")
    else:
        show_markdown(items.feedback, "❌ **Not quite** — think again, or compare with the model answer.")
