"""Faults a hostile tester found (the robustness issue): the answers file survives every mistake, a run that learned
nothing is said to, and an error names the file the student asked for.  Each test names its item."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import viva
from helpers import exercises as check
from helpers._machinery import answers, checking, files, handin, training
from helpers._machinery.answers import AnswerStore
from helpers.history import History
from tools import notebooks as authoring

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("student_session")  # tests/conftest.py: a fresh folder and answers file


# ----------------------------------------------------------------------------- answers lost


def test_item_1_the_export_refuses_to_write_onto_the_answers_file(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text('{"role": "mine"}')
    for target in ("answers.json", str(path), "./answers.json"):
        done = subprocess.run([sys.executable, "-m", "helpers.viva", "--export", target], cwd=tmp_path,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 1 and "answers file itself" in done.stdout + done.stderr
    (tmp_path / "hand-ins").mkdir()
    done = subprocess.run([sys.executable, "-m", "helpers.viva", "--overview", "hand-ins", "--out", "answers.json"],
                          cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and "HTML or Markdown" in done.stderr  # the lecturer's command neither
    assert path.read_text() == '{"role": "mine"}'


def test_item_2_a_symbolic_link_is_followed_and_stays_a_link(tmp_path):
    drive = tmp_path / "drive"
    drive.mkdir()
    real = drive / "answers.json"
    real.write_text('{"role": "from before"}')
    link = tmp_path / "answers.json"
    link.symlink_to(real)
    box = viva.ask(["role", "ranges"])
    assert box.items["role"].textarea.value == "from before"
    box.items["ranges"].textarea.value = "(0, 1)"
    box.items["role"].textarea.value = "edited"
    assert link.is_symlink() and json.loads(real.read_text()) == {"role": "edited", "ranges": "(0, 1)"}
    assert sorted(p.name for p in drive.iterdir()) == ["answers.json"]  # no lock or temporary file left


def test_item_3_a_damaged_file_is_kept_under_its_own_name_and_what_it_held_is_recovered(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text('{"role": "my first answer", "ranges": "my second answer", "sigmoid')  # cut off
    box = viva.ask(["role", "ranges", "best"])
    assert box.items["role"].textarea.value == "my first answer"  # shown, not empty
    assert "not valid JSON" in box.status.value and "2 entries were recovered" in box.status.value
    note = checking._record("deep_mlp", "done", None)  # an exercise check saves too: its note must say it
    assert "could not be read" in note and "unreadable" in note
    [first] = tmp_path.glob("answers (unreadable *).json")
    assert first.read_text().endswith('"sigmoid')
    assert json.loads(path.read_text()) == {"role": "my first answer", "ranges": "my second answer",
                                            "exercise:deep_mlp": "done"}
    path.write_text("{broken again")  # a second corruption keeps the first backup
    box = viva.ask(["best"])
    box.items["best"].textarea.value = "typed"
    backups = sorted(tmp_path.glob("answers (unreadable *).json"))
    assert len(backups) == 2 and first in backups and any(b.read_text() == "{broken again" for b in backups)
    assert "kept, unchanged, as" in box.status.value
    assert handin.export_answers("out.md").exists()  # the repaired file exports


def test_item_4_a_save_cleans_up_what_killed_saves_left(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text('{"role": "x"}')
    (tmp_path / ".answers.json.k1llxd.part").write_bytes(b"x" * 700_000)  # a save killed while writing
    (tmp_path / ".answers.json.lock").write_text("")  # and its lock
    assert AnswerStore().save("ranges", "(0, 1)") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]


def test_item_7_a_prediction_that_could_not_be_saved_is_said_and_still_counted(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    where = blocker / "answers.json"  # its folder is a file: every save fails
    box = check.predict("depth", "How large?", ["same", "half"], answers_path=where)
    box.radio.value = "half"
    box.button.click()
    shown = box.status.outputs[0]["data"]["text/markdown"]
    assert "Not saved in your answers file" in shown and "note it down" in shown
    result = check.prediction_result("depth", "half", "why", answers_path=where)
    assert result.text.startswith("You predicted **half** (committed, but not saved") and "as you predicted" in result.text
    again = check.predict("depth", "How large?", ["same", "half"], answers_path=where)  # the cell run again
    assert again.button.disabled and again.radio.value == "half"


def test_item_9_sync_refuses_a_viva_ask_it_cannot_read_instead_of_removing_the_appendix(tmp_path):
    nb = json.loads((ROOT / "notebooks" / "01_activation_functions.ipynb").read_text(encoding="utf-8"))
    before = authoring.asked_questions(nb)
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "viva.ask([" in "".join(c["source"]))
    cell["source"] = ["IDS = ['role']\n", "viva.ask(IDS)"]
    with pytest.raises(ValueError, match="written out"):
        authoring.asked_questions(nb)
    path = tmp_path / "01.ipynb"
    path.write_text(json.dumps(nb))
    assert authoring.main(["--sync", str(path)]) == 1
    assert json.loads(path.read_text()) == nb and before  # not rewritten: the appendix is still there


def test_item_12_a_held_lock_waits_once_then_saves_when_free(tmp_path, monkeypatch):
    monkeypatch.setattr(answers, "LOCK_TIMEOUT", 0.3)
    monkeypatch.setattr(answers, "RETRY_SECONDS", 0.1)
    box = viva.ask(["role", "ranges"])
    path = tmp_path / "answers.json"
    with files.locked(path):  # a hung kernel holding the lock
        box.items["role"].textarea.value = "a"
        assert "Not saved yet" in box.status.value and "as soon as it is free" in box.status.value
        began = time.monotonic()
        for text in ("ab", "abc", "abcd"):  # the next keystrokes do not wait again
            box.items["role"].textarea.value = text
        assert time.monotonic() - began < 0.25
        assert not path.exists()
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(path.read_text()) == {"role": "abcd"}  # saved in the background, once free
    deadline = time.monotonic() + 2
    while "Not saved yet" in box.status.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "saved in" in box.status.value


def test_item_23_a_failed_export_names_the_target_not_a_temporary_file(tmp_path, monkeypatch):
    (tmp_path / "answers.json").write_text('{"role": "mine"}')

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError) as err:
        handin.export_answers("my_lab_record.html")
    assert "my_lab_record.html" in str(err.value) and ".part" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]


# ----------------------------------------------------------------------------- silently wrong


def _history(loss: list[float], test_acc: list[float]) -> History:
    return History("Sigmoid", {}, loss=loss, test_acc=test_acc)


def test_item_5_a_run_that_ends_at_chance_is_marked_whatever_the_activation():
    stuck = _history([2.30] * 20, [0.098, 0.097])  # plain SGD at lr 10: Sigmoid stays at chance
    message = training.learned_nothing(stuck)
    assert message and "Sigmoid" in message and "9.7 %" in message and "learned nothing" in message
    rising = _history([2.0] * 10 + [2.5] * 10, [0.40, 0.35])  # above chance, but the loss went up
    assert "not below its first iterations'" in training.learned_nothing(rising)
    trained = _history([2.3] * 10 + [0.3] * 10, [0.85, 0.95])
    assert training.learned_nothing(trained) is None


def test_item_5_the_engine_warns_about_a_run_that_learned_nothing(tiny_data):
    from helpers import train

    with pytest.warns(UserWarning, match="learned nothing"):  # noise: there is nothing to learn
        h = train("Sigmoid", epochs=2, optimizer="sgd", momentum=0.0, lr=10, data=tiny_data, progress=False)
    assert h.warnings and "learned nothing" in h.warnings[0]


# ----------------------------------------------------------------------------- as a student meets them: a kernel


def test_answers_file_faults_in_a_real_kernel(tmp_path):
    """Items 2, 3 and 4 in a Jupyter kernel: typed answers (widget values set as the front end would), a symbolic
    link, a damaged file and a killed save's leftovers."""
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "answers.json").write_text('{"role": "kept from before", "ranges": "cut')
    (drive / ".answers.json.dead.part").write_text("half")
    (tmp_path / "answers.json").symlink_to(drive / "answers.json")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in [
        f"import os, sys\nsys.path.insert(0, {str(ROOT)!r})\nos.environ['LAB_ANSWERS'] = "
        f"{str(tmp_path / 'answers.json')!r}\nfrom helpers import viva",
        "box = viva.ask(['role', 'ranges'])\nprint(box.items['role'].textarea.value)",
        "box.items['ranges'].textarea.value = 'typed in the kernel'\nprint(box.status.value)",
    ]])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "kept from before" in nb.cells[1].outputs[0]["text"]
    assert "kept, unchanged, as" in nb.cells[2].outputs[0]["text"]
    assert (tmp_path / "answers.json").is_symlink()
    assert json.loads((drive / "answers.json").read_text()) == {"role": "kept from before",
                                                               "ranges": "typed in the kernel"}
    names = sorted(p.name for p in drive.iterdir())
    assert names[0] == "answers (unreadable " + names[0][len("answers (unreadable "):] and names[1:] == ["answers.json"]
