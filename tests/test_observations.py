"""The practical's observations (notebook 04 §7): answer boxes from the viva bank, saved, restored and handed in."""

from __future__ import annotations

import json

import pytest

from helpers import viva
from helpers._machinery import answers, handin
from helpers._machinery import questions as bank

OBSERVATIONS = ["obs-loss", "obs-accuracy", "obs-gradients", "obs-conclusion"]
READINGS = {"loss_reading": "ReLU's loss fell fastest.", "accuracy_reading": "Sigmoid made 2.88 % errors.",
            "gradient_reading": "In the first hidden layer Sigmoid's norm was 0.288.",
            "conclusion_reading": "The gradients changed more than the errors."}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test runs in its own folder with no $LAB_ANSWERS, so nothing touches the real answers."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(answers.ANSWERS_VARIABLE, raising=False)


def shown(out) -> str:
    return "".join(o["data"]["text/markdown"] for o in out.outputs if o["output_type"] == "display_data")


def test_the_four_observations_are_notebook_04_entries_of_kind_observation():
    found = [q for q in bank.load_questions() if q.get("kind") == "observation"]
    assert [q["id"] for q in found] == OBSERVATIONS
    assert {q["notebook"] for q in found} == {"04"}
    assert [q["question"][:3] for q in found] == ["(a)", "(b)", "(c)", "(d)"]
    assert all("{" + q["placeholders"][0] + "}" in q["answer"] for q in found)  # the run's own reading
    assert "error rate" in viva.question("obs-accuracy")["question"]
    assert "layer" in viva.question("obs-gradients")["question"]
    bad = [{"id": "x", "notebook": "04", "question": "Q?", "answer": "A.", "kind": "essay"}]
    assert "kind must be one of" in " ".join(bank._validate_questions(bad))


def test_reading_hidden_before_an_attempt_and_shown_after(tmp_path):
    box = viva.ask(OBSERVATIONS, fill=READINGS, answers_path=tmp_path / "a.json")
    qw = box.items["obs-gradients"]
    assert shown(qw.question).startswith("**Your observation:** (c) Gradient norms.")
    assert "2–3 sentences" in qw.textarea.placeholder
    assert qw.reveal.disabled and qw.answer.outputs == () and qw.answer.layout.display == "none"
    qw.textarea.value = "Sigmoid's first-layer gradients were about half of ReLU's."
    assert not qw.reveal.disabled
    qw.reveal.click()
    assert shown(qw.answer).startswith(READINGS["gradient_reading"]) and "global norm mixes" in shown(qw.answer)
    with pytest.raises(KeyError):  # a reading is never shown half-filled
        viva.ask(["obs-loss"], fill={"accuracy_reading": "x"}).items["obs-loss"].skip.click()


def test_observation_saved_restored_after_a_restart_and_handed_in(tmp_path):
    viva.ask(OBSERVATIONS, fill=READINGS).items["obs-accuracy"].textarea.value = "Tanh made 1.27 times the errors."
    assert json.loads((tmp_path / "answers.json").read_text()) == {"obs-accuracy": "Tanh made 1.27 times the errors."}
    again = viva.ask(OBSERVATIONS, fill=READINGS)  # a new store, as after a kernel restart
    assert again.items["obs-accuracy"].textarea.value == "Tanh made 1.27 times the errors."
    assert not again.items["obs-accuracy"].reveal.disabled and again.items["obs-loss"].reveal.disabled
    text = handin.export_answers("hand_in.md").read_text(encoding="utf-8")
    section = text.split("## Notebook 04 — observations", 1)[1].split("\n## ", 1)[0]
    assert f"### {viva.question('obs-accuracy')['question']}\n\nTanh made 1.27 times the errors." in section
    assert section.count("\n### ") == 4 and section.count(handin.NO_ANSWER) == 3
    assert READINGS["accuracy_reading"] not in text  # the model reading is not handed in
    assert text.index("## Notebook 04 — observations") < text.index("## Notebook 04\n")
    vivas = [q["id"] for q in bank.load_questions() if q.get("kind", "viva") == "viva"]
    assert f"### {vivas.index('best') + 1}. {viva.question('best')['question']}" in text  # observations not numbered
