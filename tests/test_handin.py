"""The hand-in: the lab record saved as the notebooks run, one HTML file per student, and the lecturer's overview."""

from __future__ import annotations

import base64
import json
import re

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers import PRACTICAL_ACTIVATIONS, TrainConfig, record, train_together, viva  # noqa: E402
from helpers._machinery import handin, lab_record, overview  # noqa: E402
from helpers._machinery import questions as bank  # noqa: E402
from helpers._machinery.answers import ANSWERS_VARIABLE, AnswerStore  # noqa: E402
from helpers.exercises import EXERCISES  # noqa: E402
from tests.conftest import noise_data  # noqa: E402

CONFIG = TrainConfig(epochs=1, batch_size=64)


@pytest.fixture(scope="module")
def runs():
    """A real (short) comparison and one single run, on 640 images of noise: a second or two."""
    data = noise_data()
    return train_together(PRACTICAL_ACTIVATIONS, CONFIG, data=data, progress=False), \
        train_together(["ReLU"], CONFIG, data=data, progress=False)["ReLU"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test in its own folder with its own answers file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ANSWERS_VARIABLE, str(tmp_path / "answers.json"))


def embedded(text: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="lab-record">(.*?)</script>', text, re.S)[1])


def run_the_practical(runs, answers: dict[str, str]) -> None:
    """What a student who ran notebooks 03 and 04 leaves behind: their record and their typed answers."""
    comparison, single = runs
    record.save_run("04", comparison)
    record.save_run("03", single)
    store = AnswerStore()
    for key, text in answers.items():
        assert store.save(key, text) is None


COMPLETE = {":student:name": "Ada Lovelace", ":student:number": "s1815",
            **{q["id"]: f"Ada's own answer to {q['id']}." for q in bank.load_questions()},
            **{f"exercise:{name}": "done" for name in EXERCISES},
            "prediction:depth": "0.01", "prediction:depth:question": "The ratio?", "prediction:depth:measured": "0.02"}


def test_the_hand_in_holds_every_part_of_the_record(runs, tmp_path, capsys):
    plt.close("all")  # figures other tests left open are not this test's
    run_the_practical(runs, COMPLETE)
    assert "Saved in your lab record: record/04.json and the loss, accuracy and gradient-norm plots" in \
        capsys.readouterr().out
    assert plt.get_fignums() == []  # the panels drawn for the record are closed: a notebook shows none of them
    before = (tmp_path / "answers.json").read_bytes()
    out = handin.export_answers("hand-in.html")
    assert (tmp_path / "answers.json").read_bytes() == before  # exporting never touches the answers
    text = out.read_text(encoding="utf-8")
    data = embedded(text)
    assert data["student"] == {"name": "Ada Lovelace", "number": "s1815"} and "Ada Lovelace" in text
    assert data["lab_version"] and data["lab_version"] in text
    for activation in PRACTICAL_ACTIVATIONS:  # settings and results, as measured
        run = data["runs"]["04"]["runs"][activation]
        assert run["config"]["epochs"] == 1 and run["config"]["seed"] == 0 and run["config"]["optimizer"] == "adam"
        assert run["test_acc"] == runs[0][activation].test_acc
        assert f"{100 * runs[0][activation].test_acc[-1]:.2f} %" in text
        assert len(run["layers"]["last epoch"]["shares"]) == 3
    assert "<th>batch_size</th>" in text and "first hidden" in text and "share" in text
    assert data["runs"]["03"]["runs"]["ReLU"]["test_acc"] == runs[1].test_acc
    images = re.findall(r'<img alt="notebook (\d+): (\w+)" src="data:image/png;base64,([^"]+)"', text)
    assert [(nb, panel) for nb, panel, _ in images] == [(nb, p) for nb in ("03", "04")
                                                         for p in ("loss", "accuracy", "grad_norm")]
    assert all(base64.b64decode(png).startswith(b"\x89PNG") for _, _, png in images)
    obs = text.index("Observations and conclusion")
    assert obs < text.index("Ada's own answer to obs-loss.") and "Ada's own answer to obs-conclusion." in text
    assert "Ada's own answer to role." in text and text.count("No answer yet.") == 0
    assert all(e["status"] == "done" for e in data["exercises"]) and len(data["exercises"]) == len(EXERCISES)
    assert data["predictions"][0]["predicted"] == "0.01" and "not run yet" not in text.lower()


def test_a_half_finished_lab_says_what_is_missing_and_older_hand_ins_are_kept(tmp_path):
    AnswerStore().save("role", "Only this one.")
    first = handin.export_answers("hand-in.html").read_text(encoding="utf-8")
    assert first.count("Not run yet: run notebook") == 2 and "Only this one." in first
    assert first.count("No answer yet.") == len(bank.load_questions()) - 1
    AnswerStore().save("role", "Changed.")
    target, older = handin.write_handin("hand-in.html")
    assert older is not None and older.name.startswith("hand-in (") and older.read_text(encoding="utf-8") == first
    assert "Changed." in target.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="answers file itself"):
        handin.export_answers(tmp_path / "answers.json")
    assert json.loads((tmp_path / "answers.json").read_text()) == {"role": "Changed."}


def test_save_figure_marks_a_figure_for_the_record(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    record.save_figure("05", "Gradient ratio by depth", fig)
    plt.close(fig)
    text = handin.export_answers("h.html").read_text(encoding="utf-8")
    assert "Gradient ratio by depth (notebook 05)" in text and text.count("data:image/png;base64,") == 1


def test_export_button_asks_the_name_once_and_saves_it(tmp_path):
    box = viva.export_button()
    box.name.value, box.number.value = "Grace Hopper", "42"
    box.button.click()
    assert "my_lab_record.html" in box.status.value and "Not run yet: notebook 03, 04" in box.status.value
    saved = json.loads((tmp_path / "answers.json").read_text())
    assert saved == {":student:name": "Grace Hopper", ":student:number": "42"}
    assert viva.export_button().name.value == "Grace Hopper"  # asked once: there next time
    box.button.click()
    assert "earlier file is kept" in box.status.value


def test_the_lecturer_s_overview_flags_what_needs_a_look(runs, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "hand-ins"
    students = {"ada": COMPLETE, "bob": {":student:name": "Bob", "role": "Half done."},
                "cyd": {**{k: v for k, v in COMPLETE.items() if k != "obs-loss"}, ":student:name": "Cyd",
                        ":student:number": "s2"}}
    for who, answers in students.items():
        (tmp_path / who).mkdir()
        monkeypatch.setenv(ANSWERS_VARIABLE, str(tmp_path / who / "answers.json"))
        if who != "bob":
            run_the_practical(runs, answers)
        else:
            AnswerStore().save(":student:name", "Bob") or AnswerStore().save("role", "Half done.")
        if who == "cyd":  # a record whose results do not match its settings
            part = tmp_path / who / "record" / "04.json"
            data = json.loads(part.read_text())
            data["runs"]["Tanh"]["config"]["epochs"] = 5
            data["runs"]["ReLU"]["config"]["seed"] = 3
            part.write_text(json.dumps(data))
        handin.export_answers(folder / f"{who}.html")
    (folder / "notes.html").write_text("<p>not a hand-in</p>")
    assert handin.main(["--overview", str(folder), "--out", str(tmp_path / "overview.md")]) == 0
    said = capsys.readouterr().out
    assert "3 hand-ins" in said and "skipped (not hand-ins): notes.html" in said
    text = (tmp_path / "overview.md").read_text(encoding="utf-8")
    total = len(bank.load_questions())
    ada = next(line for line in text.splitlines() if "| ada.html |" in line)
    assert f"| Ada Lovelace | s1815 | {total}/{total} | {len(EXERCISES)}/{len(EXERCISES)} | 1 |" in ada
    assert "seed 0, 1 epochs, batch 64, adam lr 0.001" in ada
    assert f"{100 * runs[0]['Sigmoid'].test_acc[-1]:.2f} %" in ada
    flags = text.split("## Flags", 1)[1]
    assert "Ada Lovelace (ada.html)" not in flags  # complete: nothing to flag for her alone
    assert "Bob (bob.html): not run yet: notebook 03" in flags and "Bob (bob.html): exercises not done" in flags
    assert f"Bob (bob.html): {total - 1} questions unanswered" in flags
    assert "Cyd (cyd.html): 1 questions unanswered: obs-loss" in flags
    assert "Cyd (cyd.html): notebook 04 Tanh: 1 epochs recorded, the settings say 5" in flags
    assert "Cyd (cyd.html): notebook 04: one comparison with different seeds" in flags
    assert re.search(r"identical answers: ada\.html and cyd\.html, to role, ", flags)
    assert "bob.html and" not in flags and "and bob.html" not in flags
    assert handin.main(["--overview", str(folder), "--out", str(tmp_path / "overview.html")]) == 0
    assert "<td>Ada Lovelace</td>" in (tmp_path / "overview.html").read_text(encoding="utf-8")
    assert len(overview.overview(folder)[0]) == 3


def test_record_folder_sits_beside_the_answers_file(tmp_path, monkeypatch):
    monkeypatch.setenv(ANSWERS_VARIABLE, str(tmp_path / "sub" / "mine.json"))
    assert lab_record.record_folder() == tmp_path / "sub" / "record"
