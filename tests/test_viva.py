"""Tests for helpers/viva.py, helpers/viva_questions.json, the answers file and the hand-in (headless: widgets
are built, not shown)."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from helpers import viva
from helpers._machinery import questions as bank
from helpers._machinery import answers, files, handin, widgets

PRACTICAL = {
    "role": "01", "why-nonlinear": "01", "ranges": "01", "relu-disadvantage": "01", "zero-centred": "02",
    "vanishing": "03", "exploding": "03", "relu-vanishing": "04", "sigmoid-vs-relu": "04", "best": "04",
}
MULTIPLE_CHOICE = ["why-nonlinear", "relu-vanishing", "relu-disadvantage", "zero-centred", "ranges"]
EXTRA = {"normalize": "02", "grad-norm-curve": "05", "layer-ratio": "05", "depth-sigmoid": "05",
         "adam-vs-sgd": "05", "init-variance": "06", "clipping": "06", "residual": "07"}
FILL = viva.best_fill({"Sigmoid": 0.9512, "Tanh": 0.9634, "ReLU": 0.9781})


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test runs in its own folder with no $LAB_ANSWERS, so nothing touches the real answers."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(answers.ANSWERS_VARIABLE, raising=False)


def raw_questions() -> list:
    with open(bank._QUESTIONS_FILE, encoding="utf-8") as f:
        return json.load(f)


def shown(out) -> str:
    """The Markdown an Output widget holds (what the front end renders, math included)."""
    return "".join(o["data"]["text/markdown"] for o in out.outputs if o["output_type"] == "display_data")


# ----------------------------------------------------------------------------- the JSON content

def test_json_is_a_valid_list_with_unique_ids():
    data = raw_questions()
    assert isinstance(data, list) and data
    ids = [q["id"] for q in data]
    assert len(ids) == len(set(ids))
    assert bank._validate_questions(data) == []
    for q in data:
        assert q["question"].strip() and q["answer"].strip()
        assert q["notebook"] in bank.NOTEBOOKS


def test_validate_questions_catches_mistakes():
    bad = [{"id": "a", "notebook": "01", "question": "Q?", "answer": "A."},
           {"id": "a", "notebook": "09", "question": "", "answer": "A.", "choices": ["x", "y"], "correct": 2}]
    problems = " ".join(bank._validate_questions(bad))
    assert "duplicate id" in problems and "notebook" in problems and "'question'" in problems
    assert "'correct'" in problems


def test_practical_questions_present_in_their_notebooks():
    by_id = {q["id"]: q for q in bank.load_questions()}
    for qid, notebook in {**PRACTICAL, **EXTRA}.items():
        assert qid in by_id, qid
        assert by_id[qid]["notebook"] == notebook, qid


def test_multiple_choice_questions_have_valid_correct_index():
    for qid in MULTIPLE_CHOICE:
        q = viva.question(qid)
        assert len(q["choices"]) >= 2
        assert 0 <= q["correct"] < len(q["choices"])
    for q in bank.load_questions():
        if "choices" in q:
            assert isinstance(q["correct"], int) and 0 <= q["correct"] < len(q["choices"])
    zc = viva.question("zero-centred")
    assert zc["choices"] == ["Sigmoid", "Tanh", "ReLU"] and zc["choices"][zc["correct"]] == "Tanh"


def test_key_facts_in_answers():
    assert "W_3 W_2 W_1" in viva.question("why-nonlinear")["answer"]
    assert "0.25" in viva.question("vanishing")["answer"]
    assert "exactly 1" in viva.question("relu-vanishing")["answer"]
    assert "dying ReLU" in viva.question("relu-disadvantage")["answer"]
    ranges = viva.question("ranges")["answer"]
    assert "$(0, 1)$" in ranges and "$(-1, 1)$" in ranges and "$[0, \\infty)$" in ranges


def test_every_model_answer_opens_with_what_a_student_would_say_aloud():
    """A core answer of at most 60 words (two or three sentences), then an optional "Going further"."""
    for q in bank.load_questions():
        core = bank.answer_text(q).split("\n\n")[0]
        assert len(core.split()) <= 60, (q["id"], len(core.split()))
        rest = q["answer"].split("\n\n")[1:]
        assert not rest or q.get("placeholders") or rest[0].startswith(("**Going further.**", "Sigmoid and Tanh")), \
            q["id"]


def test_the_numbers_in_model_answers_are_measured_ones():
    """The facts the model answers quote: MNIST after Normalize((0.5,), (0.5,)), and a sigmoid layer's factor."""
    from helpers import build_mlp, load_mnist
    from helpers.flow import layer_grad_norms_at_init

    assert "81 %" in viva.question("normalize")["answer"] and "−0.74" in viva.question("normalize")["answer"]
    data = load_mnist("cpu")
    assert round(100 * (data.train_x == -1).float().mean().item()) == 81
    assert round(data.train_x.mean().item(), 2) == -0.74
    assert all("0.13–0.14" in viva.question(i)["answer"] for i in ("depth-sigmoid", "vanishing"))
    x, y = data.train_x[:256], data.train_y[:256]
    for seed in range(3):  # the first layer's gradient, 20 sigmoid layers against 10: the factor per layer
        deep, shallow = (layer_grad_norms_at_init(build_mlp("Sigmoid", seed, hidden=(128,) * d), x, y)[0]
                         for d in (20, 10))
        assert 0.125 <= (deep / shallow) ** 0.1 <= 0.145


def test_question_unknown_id_lists_valid_ids():
    with pytest.raises(KeyError) as err:
        viva.question("no-such-question")
    assert "role" in str(err.value) and "clipping" in str(err.value)


def test_questions_for_and_order():
    assert [q["id"] for q in bank.questions_for("04")] == ["obs-loss", "obs-accuracy", "obs-gradients", "obs-conclusion",
                                                            "best", "sigmoid-vs-relu", "relu-vanishing"]  # as asked
    assert {q["id"] for q in bank.questions_for("01")} == {k for k, v in PRACTICAL.items() if v == "01"}
    notebooks = [q["notebook"] for q in bank.load_questions()]
    assert notebooks == sorted(notebooks)


def test_load_questions_returns_a_copy():
    bank.load_questions()[0]["question"] = "changed"
    viva.question("role")["answer"] = "changed"
    assert bank.load_questions()[0]["question"] != "changed"
    assert viva.question("role")["answer"] != "changed"


# ----------------------------------------------------------------------------- templates

def test_best_template_filled():
    text = bank.answer_text(viva.question("best"), FILL)
    assert "**ReLU**" in text and "97.81 %" in text
    assert "| Sigmoid | 95.12 % |" in text
    assert not re.search(r"\{(best|best_test_acc|table)\}", text)


def test_best_template_without_fill_has_no_placeholders():
    text = bank.answer_text(viva.question("best"))
    assert "{" not in text and bank._PENDING in text
    assert "ReLU" in text  # the explanation stays
    md = bank.model_answer_details(viva.question("best"))
    assert "{best}" not in md and bank._PENDING in md


def test_best_template_missing_fill_value_is_an_error():
    with pytest.raises(KeyError, match="table"):
        bank.answer_text(viva.question("best"), {"best": "ReLU", "best_test_acc": "97 %"})


def test_best_fill_whichever_activation_wins_and_ties():
    fill = viva.best_fill({"Sigmoid": 96.0, "Tanh": 95.5, "ReLU": 95.9})  # percentages work too
    assert fill["best"] == "Sigmoid" and fill["best_test_acc"] == "96.00 %"
    assert fill["table"].splitlines()[2] == "| Sigmoid | 96.00 % |"
    assert viva.best_fill({"Tanh": 0.97, "ReLU": 0.97})["best"] == "Tanh and ReLU (tied)"


def test_model_answer_details_is_collapsed():
    md = bank.model_answer_details(viva.question("ranges"))
    assert md.startswith("<details><summary>Model answer</summary>\n\n") and md.endswith("\n\n</details>")
    assert viva.question("ranges")["answer"] in md


# ----------------------------------------------------------------------------- widgets

def test_ask_builds_widgets_for_each_question(tmp_path):
    box = viva.ask(["role", "zero-centred"], answers_path=tmp_path / "a.json")
    assert list(box.items) == ["role", "zero-centred"]
    assert box.items["role"].radio is None and box.items["role"].check is None
    zc = box.items["zero-centred"]
    assert zc.radio is not None and zc.radio.value is None  # no choice made for the student
    assert shown(zc.question) == "**Viva:** Which activation is zero-centred?"
    assert "`transforms.Normalize" in shown(viva.ask(["normalize"]).items["normalize"].question)  # Markdown kept
    with pytest.raises(KeyError):
        viva.ask(["nope"])


def test_model_answer_opens_only_after_an_attempt_or_an_explicit_skip(tmp_path):
    qw = viva.ask(["vanishing"], answers_path=tmp_path / "a.json").items["vanishing"]
    assert qw.reveal.disabled and qw.answer.outputs == ()  # think first
    qw.textarea.value = "   "
    assert qw.reveal.disabled  # blanks are no attempt
    qw.textarea.value = "Gradients shrink layer by layer."
    assert not qw.reveal.disabled
    qw.textarea.value = ""
    assert qw.reveal.disabled
    qw.skip.click()  # "Show without answering"
    assert shown(qw.answer) == viva.question("vanishing")["answer"] and qw.skip.layout.display == "none"
    again = viva.ask(["vanishing"], answers_path=tmp_path / "b.json")
    assert again.items["vanishing"].reveal.disabled
    (tmp_path / "c.json").write_text('{"vanishing": "saved earlier"}')
    assert not viva.ask(["vanishing"], answers_path=tmp_path / "c.json").items["vanishing"].reveal.disabled


def test_reveal_button_toggles_model_answer(tmp_path):
    qw = viva.ask(["vanishing"], answers_path=tmp_path / "a.json").items["vanishing"]
    assert qw.answer.outputs == () and qw.answer.layout.display == "none"  # nothing to peek at before the click
    assert qw.reveal.description == "Show model answer"
    qw.textarea.value = "My own answer first."
    qw.reveal.click()
    assert [o["output_type"] for o in qw.answer.outputs] == ["display_data"]
    assert shown(qw.answer) == viva.question("vanishing")["answer"]  # Markdown with $math$, as in the JSON
    assert "0.25" in shown(qw.answer) and qw.answer.layout.display is None
    assert qw.reveal.description == "Hide model answer"
    qw.reveal.click()
    assert qw.answer.outputs == () and qw.answer.layout.display == "none"
    assert qw.reveal.description == "Show model answer"


def test_reveal_shows_filled_template(tmp_path):
    qw = viva.ask(["best"], fill=FILL, answers_path=tmp_path / "a.json").items["best"]
    qw.skip.click()
    assert "| Sigmoid | 95.12 % |" in shown(qw.answer) and "97.81 %" in shown(qw.answer)


def test_show_markdown_replaces_and_clears():
    import ipywidgets

    out = ipywidgets.Output()
    widgets.show_markdown(out, "first")
    widgets.show_markdown(out, "**second** $x^2$")
    assert shown(out) == "**second** $x^2$" and len(out.outputs) == 1
    widgets.show_markdown(out, None)
    assert out.outputs == ()


def test_check_feedback(tmp_path):
    qw = viva.ask(["zero-centred"], answers_path=tmp_path / "a.json").items["zero-centred"]
    assert qw.feedback.outputs == ()
    qw.check.click()
    assert shown(qw.feedback) == "Choose an answer first."
    qw.radio.value = 0  # Sigmoid
    qw.check.click()
    assert "Not quite" in shown(qw.feedback) and "Correct" not in shown(qw.feedback)
    qw.radio.value = 1  # Tanh
    qw.check.click()
    assert "Correct" in shown(qw.feedback) and "Not quite" not in shown(qw.feedback)
    assert viva.question("zero-centred")["feedback"] in shown(qw.feedback)
    assert len(qw.feedback.outputs) == 1  # replaced, not appended


def test_typed_answer_saved_and_restored(tmp_path):
    path = tmp_path / "answers.json"
    first = viva.ask(["role", "ranges"])  # default: ./answers.json in the working directory
    first.items["role"].textarea.value = "It adds non-linearity."
    assert json.loads(path.read_text()) == {"role": "It adds non-linearity."}
    second = viva.ask(["ranges", "role"])  # as after a kernel restart
    assert second.items["role"].textarea.value == "It adds non-linearity."
    second.items["ranges"].textarea.value = "(0,1), (-1,1), [0,inf)"
    assert json.loads(path.read_text()) == {"role": "It adds non-linearity.", "ranges": "(0,1), (-1,1), [0,inf)"}
    assert [p.name for p in tmp_path.iterdir()] == ["answers.json"]  # no temporary file left behind


def test_answers_from_two_cells_are_merged(tmp_path):
    a = viva.ask(["role"])
    b = viva.ask(["ranges"])
    a.items["role"].textarea.value = "A"
    b.items["ranges"].textarea.value = "B"
    assert json.loads((tmp_path / "answers.json").read_text()) == {"role": "A", "ranges": "B"}


def test_lab_answers_variable_names_the_file(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "mine.json"
    monkeypatch.setenv(answers.ANSWERS_VARIABLE, str(target))
    viva.ask(["role"]).items["role"].textarea.value = "x"
    assert json.loads(target.read_text()) == {"role": "x"}
    assert not (tmp_path / "answers.json").exists()


def test_corrupt_answers_file(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text("{not json")
    box = viva.ask(["role"])
    assert "not valid JSON" in box.status.value
    assert box.items["role"].textarea.value == ""
    assert path.read_text() == "{not json"  # untouched until the student types
    box.items["role"].textarea.value = "new text"
    assert json.loads(path.read_text()) == {"role": "new text"}
    [kept] = tmp_path.glob("answers (unreadable *).json")
    assert kept.read_text() == "{not json" and kept.name in box.status.value


def test_unwritable_location_reported_not_raised(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    box = viva.ask(["role"], answers_path=blocker / "answers.json")  # its "folder" is a file
    box.items["role"].textarea.value = "typed"  # must not raise
    assert "not saved" in box.status.value
    assert box.items["role"].textarea.value == "typed"


def test_permission_error_reported_not_raised(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(answers, "atomic_write_text", refuse)
    box = viva.ask(["role"])
    box.items["role"].textarea.value = "typed"
    assert "Permission denied" in box.status.value
    assert not (tmp_path / "answers.json").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_read_only_directory(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        box = viva.ask(["role"], answers_path=folder / "answers.json")
        box.items["role"].textarea.value = "typed"
        assert "not saved" in box.status.value
    finally:
        folder.chmod(stat.S_IRWXU)


# ----------------------------------------------------------------------------- export

def test_export_writes_every_question_and_answers(tmp_path):
    viva.ask(["role"]).items["role"].textarea.value = "My own **role** answer."
    out = handin.export_answers("my_viva_answers.md")
    assert out == tmp_path / "my_viva_answers.md"
    text = out.read_text(encoding="utf-8")
    for q in bank.load_questions():
        assert q["question"] in text, q["id"]
    assert "My own **role** answer." in text
    assert text.count(handin.NO_ANSWER) == len(bank.load_questions()) - 1
    positions = [text.index(f"## Notebook {n}") for n in bank.NOTEBOOKS]
    assert positions == sorted(positions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json", "my_viva_answers.md"]


def test_export_with_model_answers_uses_fill(tmp_path):
    out = handin.export_answers(tmp_path / "out.md", fill_by_id={"best": FILL}, include_model_answers=True)
    text = out.read_text(encoding="utf-8")
    assert "97.81 %" in text and "<details>" in text


def test_export_refuses_corrupt_answers(tmp_path):
    (tmp_path / "answers.json").write_text("[oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        handin.export_answers("out.md")
    assert not (tmp_path / "out.md").exists()


def test_export_button(tmp_path):
    viva.ask(["ranges"]).items["ranges"].textarea.value = "done"
    box = viva.export_button(path=tmp_path / "exp.md")
    box.button.click()
    assert "exp.md" in box.status.value and "1 of" in box.status.value
    assert "done" in (tmp_path / "exp.md").read_text(encoding="utf-8")


def test_export_command_line(tmp_path, capsys):
    (tmp_path / "mine.json").write_text(json.dumps({"clipping": "It caps the norm."}))
    assert handin.main(["--export", "out.md", "--answers", "mine.json"]) == 0
    assert "It caps the norm." in (tmp_path / "out.md").read_text(encoding="utf-8")
    assert "out.md" in capsys.readouterr().out
    assert handin.main(["--export", "m.md", "--answers", "mine.json", "--model-answers"]) == 0
    assert "<details><summary>Model answer</summary>" in (tmp_path / "m.md").read_text(encoding="utf-8")
    with pytest.raises(SystemExit):
        handin.main(["--sync"])  # the notebook writing moved to tools.notebooks


# ----------------------------------------------------------------------------- saving from several kernels

def _save_many(path: str, prefix: str, count: int, start) -> None:
    """What one kernel does: ``count`` saves through the widget's own code, each of a new answer."""
    store = answers.AnswerStore(path)
    start.wait()  # both processes save at the same time
    for i in range(count):
        error = store.save(f"{prefix}-{i}", f"answer {i} of {prefix}")
        assert error is None, error


def test_two_processes_saving_at_once_lose_no_answer(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    path, start = tmp_path / "answers.json", context.Event()
    workers = [context.Process(target=_save_many, args=(str(path), name, 200, start)) for name in ("a", "b")]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert len(saved) == 400 and saved["a-199"] == "answer 199 of a" and saved["b-0"] == "answer 0 of b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]  # no lock or temporary file left


def test_a_save_while_another_notebook_holds_the_lock_is_kept_for_the_next_change(tmp_path, monkeypatch):
    monkeypatch.setattr(answers, "LOCK_TIMEOUT", 0.2)  # a keystroke waits this long, then gives up
    box = viva.ask(["role", "ranges"])
    with files.locked(tmp_path / "answers.json"):  # another notebook, saving
        box.items["role"].textarea.value = "typed while the file was locked"
        assert "Not saved yet" in box.status.value and "saved as soon as it is free" in box.status.value
        assert box.items["role"].textarea.value == "typed while the file was locked"
    assert not (tmp_path / "answers.json").exists()
    box.items["ranges"].textarea.value = "(0, 1)"
    assert json.loads((tmp_path / "answers.json").read_text()) == {"role": "typed while the file was locked",
                                                                 "ranges": "(0, 1)"}
    assert "saved in" in box.status.value
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]  # no lock file left


def test_entries_that_are_not_answers_are_kept_untouched(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"role": "typed", "count": 3, "nested": {"a": [1, 2]}, "off": None}))
    box = viva.ask(["ranges"])
    assert box.store.problem is None and box.items["ranges"].textarea.value == ""
    box.items["ranges"].textarea.value = "(0, 1)"
    assert json.loads(path.read_text()) == {"role": "typed", "count": 3, "nested": {"a": [1, 2]}, "off": None,
                                            "ranges": "(0, 1)"}
    assert answers.read_answers(path) == ({"role": "typed", "ranges": "(0, 1)"}, None)  # answers are strings


def test_a_file_far_larger_than_answers_is_refused_not_read_or_replaced(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"role": "x" * (answers.MAX_ANSWERS_BYTES + 10)}))
    before = path.stat()
    box = viva.ask(["role"])
    assert "MB, far larger than an answers file" in box.status.value and "LAB_ANSWERS" in box.status.value
    assert box.items["role"].textarea.value == ""

    def no_reading(*args, **kwargs):
        raise AssertionError("the large file was read again")

    with monkeypatch.context() as patch:
        patch.setattr(answers.Path, "read_text", no_reading)
        box.items["role"].textarea.value = "typed"  # each keystroke: one stat, no read
    assert "not saved" in box.status.value and "left alone" in box.status.value
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]  # no .bak copy of it either
    with pytest.raises(ValueError, match="far larger than an answers file"):
        handin.export_answers("out.md")


def test_export_command_from_the_repository_root_finds_the_notebooks_answers(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "repo" / "notebooks"  # stands for <repo>/notebooks, where the kernels save
    notebooks.mkdir(parents=True)
    (notebooks / "answers.json").write_text(json.dumps({"clipping": "It caps the norm."}))
    monkeypatch.setattr(answers, "NOTEBOOK_ANSWERS", notebooks / "answers.json", raising=False)
    assert handin.main(["--export", "my_viva_answers.md"]) == 0  # run from a folder without answers.json
    assert "It caps the norm." in (tmp_path / "my_viva_answers.md").read_text(encoding="utf-8")
    assert str(notebooks / "answers.json") in capsys.readouterr().out
    (tmp_path / "answers.json").write_text(json.dumps({"clipping": "from here"}))  # ./answers.json comes first
    assert handin.main(["--export", "here.md"]) == 0
    assert "from here" in (tmp_path / "here.md").read_text(encoding="utf-8")


def test_export_command_without_any_answers_file_refuses_and_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(answers, "NOTEBOOK_ANSWERS", tmp_path / "repo" / "notebooks" / "answers.json", raising=False)
    assert handin.main(["--export", "out.md"]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "answers.json") in err and str(tmp_path / "repo" / "notebooks" / "answers.json") in err
    assert "--answers" in err and not (tmp_path / "out.md").exists()
    monkeypatch.setenv(answers.ANSWERS_VARIABLE, str(tmp_path / "mine.json"))  # named, but not there: only that one
    assert handin.main(["--export", "out.md"]) == 1
    assert "mine.json" in capsys.readouterr().err and not (tmp_path / "out.md").exists()
    assert handin.main(["--export", "out.md", "--answers", "missing.json"]) == 1
    assert "missing.json" in capsys.readouterr().err
