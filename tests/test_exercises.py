"""Tests for helpers/exercises/ (the "Your turn" checks, run by helpers/_machinery/checking.py) and the instructor
copies of tools/notebooks.py."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import exercises as check
from helpers import practical, solutions, theory, viva
from helpers._machinery import checking, handin
from helpers._machinery.answers import ANSWERS_VARIABLE
from helpers.activations import make_activation
from helpers.practical import global_grad_norm
from tools import notebooks as authoring

NOTEBOOKS = sorted(authoring.NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test in its own folder, with its own answers file: nothing touches the real answers."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ANSWERS_VARIABLE, str(tmp_path / "answers.json"))


def answers(tmp_path) -> dict:
    path = tmp_path / "answers.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def shown(out) -> str:
    """The Markdown an Output widget holds."""
    return "".join(o["data"]["text/markdown"] for o in out.outputs if o["output_type"] == "display_data")


def run(name, *functions):
    return check.run_check(name, *functions, show=False)


def wrong(name, *functions) -> str:
    """The message of a check that must find a mistake; the notebook must go on with the reference."""
    result = run(name, *functions)
    assert result.status.startswith("tried: "), result.status
    assert result.functions == check.EXERCISES[name].references or name == "derivatives"
    return shown(result.message)


# ----------------------------------------------------------------------------- every exercise: reference and stubs

@pytest.mark.parametrize("name", list(check.EXERCISES))
def test_the_reference_passes_and_is_returned(name, tmp_path):
    exercise = check.EXERCISES[name]
    result = run(name, *exercise.references)
    assert result.status == "done", [v.message for v in result.verdicts.values()]
    assert result.functions == exercise.references
    assert "✓" in shown(result.message) and "Not done yet" not in shown(result.message)
    assert answers(tmp_path)[f"exercise:{name}"] == "done"


def returns_none(*args):
    """A stub: its body is `...`."""
    ...


def raises_not_implemented(*args):
    raise NotImplementedError


def passes(*args):
    """The template with `pass` instead of `...`."""
    pass


@pytest.mark.parametrize("stub", [returns_none, raises_not_implemented, passes], ids=["...", "raise", "pass"])
@pytest.mark.parametrize("name", list(check.EXERCISES))
def test_a_stub_is_not_done_yet_and_the_notebook_goes_on(name, stub, tmp_path):
    exercise = check.EXERCISES[name]
    result = run(name, *[stub] * len(exercise.functions))
    assert result.status == "not done yet"
    assert result.functions == exercise.references
    assert "Not done yet** — the notebook goes on with the library's version" in shown(result.message)
    assert not (tmp_path / "answers.json").exists()  # an untouched stub writes nothing (notebooks run in tests)


def test_the_public_checks_return_what_the_notebook_uses():
    assert check.grad_norm(returns_none) is global_grad_norm
    mine = lambda model: global_grad_norm(model)  # noqa: E731
    assert check.grad_norm(mine) is mine
    derivatives = check.derivatives(returns_none, returns_none, returns_none)
    assert derivatives == check.EXERCISES["derivatives"].references
    assert check.collapse(returns_none) is theory.collapse_two
    assert check.training_step(returns_none) is practical.training_step
    assert check.correct_predictions(returns_none) is practical.correct_predictions
    assert check.deep_mlp(returns_none) is solutions.deep_mlp


def test_a_function_that_raises_never_raises_out_of_the_check():
    def broken(model):
        return 1 / 0

    result = run("grad_norm", broken)
    assert result.functions == (global_grad_norm,) and result.status == "tried: raised ZeroDivisionError"
    assert "ZeroDivisionError" in shown(result.message) and "library's version" in shown(result.message)
    assert run("deep_mlp", lambda *a: nn.Linear(3)).status.startswith("tried: raised")  # a TypeError inside
    assert run("collapse", 42).status == "tried: raised TypeError"  # not even a function


# ----------------------------------------------------------------------------- derivatives

def sigmoid_prime(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


def tanh_prime(z):
    return 1 - torch.tanh(z) ** 2


def relu_prime(z):
    return (z > 0).to(z.dtype)


def test_derivatives_right_ones_are_kept_and_wrong_ones_replaced(tmp_path):
    result = run("derivatives", sigmoid_prime, lambda z: 1 - torch.tanh(z), returns_none)
    reference = check.EXERCISES["derivatives"].references
    assert result.functions == (sigmoid_prime, reference[1], reference[2])
    assert result.status == "tried: tanh_derivative: 1 − tanh(z): forgot the square; relu_derivative: not done yet"
    text = shown(result.message)
    assert "✓ `sigmoid_derivative`" in text and "forgot the square" in text and "Not done yet" in text
    assert answers(tmp_path)["exercise:derivatives"] == result.status


@pytest.mark.parametrize("sigmoid, expected", [
    (torch.sigmoid, "Returned σ(z) itself"),
    (lambda z: z * (1 - z), "Used z where σ(z) belongs"),
    (lambda z: 0.5 * sigmoid_prime(z), "Off by a constant factor"),
    (lambda z: sigmoid_prime(z).sum(), "Wrong shape"),
    (lambda z: str(sigmoid_prime(z)), "Not a tensor"),
])
def test_sigmoid_derivative_mistakes(sigmoid, expected):
    assert expected in wrong("derivatives", sigmoid, tanh_prime, relu_prime)


@pytest.mark.parametrize("tanh, expected", [
    (lambda z: 1 - torch.tanh(z), "1 − tanh(z): forgot the square"),
    (torch.tanh, "Returned tanh(z) itself"),
    (lambda z: 1 - z ** 2, "Used z where tanh(z) belongs"),
    (lambda z: z.tanh_(), "Changed its input"),
])
def test_tanh_derivative_mistakes(tanh, expected):
    assert expected in wrong("derivatives", sigmoid_prime, tanh, relu_prime)


@pytest.mark.parametrize("relu, expected", [
    (torch.relu, "Returned ReLU itself instead of its slope"),
    (lambda z: (z < 0).to(z.dtype), "The step the wrong way round"),
    (lambda z: z > 0, "Values of type torch.bool"),
    (lambda z: torch.where(z == 0, 0.5, relu_prime(z)), "At z = 0"),
])
def test_relu_derivative_mistakes(relu, expected):
    assert expected in wrong("derivatives", sigmoid_prime, tanh_prime, relu)


def test_relu_derivative_accepts_0_or_1_at_zero_and_says_pytorch_uses_0():
    at_zero_1 = run("derivatives", sigmoid_prime, tanh_prime, lambda z: (z >= 0).to(z.dtype))
    assert at_zero_1.status == "done" and "PyTorch uses 0" in shown(at_zero_1.message)
    at_zero_0 = run("derivatives", sigmoid_prime, tanh_prime, relu_prime)
    assert "as PyTorch does" in shown(at_zero_0.message)


# ----------------------------------------------------------------------------- collapse

@pytest.mark.parametrize("function, expected", [
    (lambda f, s: (f.weight @ s.weight, s.weight @ f.bias + s.bias), "W₁W₂ in the wrong order"),
    (lambda f, s: (s.weight @ f.weight, s.bias), "Bias without b₁"),
    (lambda f, s: (s.weight @ f.weight, f.bias + s.bias), "B₁ went around the second layer"),
    (lambda f, s: (s.weight @ f.weight, s.weight @ f.bias), "Forgot b₂"),
    (lambda f, s: ((s.weight @ f.weight).T, s.weight @ f.bias + s.bias), "W transposed"),
    (lambda f, s: (s.weight * f.weight, s.weight @ f.bias + s.bias), "Multiplied element by element"),
    (lambda f, s: theory.collapse(nn.Sequential(f, s)), "Returned a layer"),
])
def test_collapse_mistakes(function, expected):
    assert expected in wrong("collapse", function)


def test_collapse_reports_what_it_measured():
    assert "largest difference" in shown(run("collapse", theory.collapse_two).message)


# ----------------------------------------------------------------------------- grad_norm

def norms(model):
    return [p.grad.norm().item() for p in model.parameters()]


@pytest.mark.parametrize("function, expected", [
    (lambda m: sum(n * n for n in norms(m)), "Missing square root"),
    (lambda m: sum(norms(m)), "Summed norms instead of squares"),
    (lambda m: math.sqrt(sum(p.grad.norm().item() ** 2 for n, p in m.named_parameters() if "weight" in n)),
     "Only the weights: forgot the biases"),
    (lambda m: norms(m)[-1], "Only the last tensor"),
    (lambda m: 2 * global_grad_norm(m), "Off by a constant factor"),
    (lambda m: torch.nn.utils.clip_grad_norm_(m.parameters(), 0.01).item(), "Changed the gradients"),
    (lambda m: "0.5", "The norm is not a number"),
])
def test_grad_norm_mistakes(function, expected):
    assert expected in wrong("grad_norm", function)


def test_grad_norm_says_the_norm_and_accepts_a_tensor_turned_into_a_float():
    text = shown(run("grad_norm", global_grad_norm).message)
    assert re.search(r"your norm \d+\.\d+ equals the reference", text) and "gradients left unchanged" in text
    student = lambda m: torch.sqrt(sum(p.grad.norm() ** 2 for p in m.parameters()))  # noqa: E731
    as_tensor = run("grad_norm", student)
    assert as_tensor.status == "done" and "turns it into a Python float" in shown(as_tensor.message)
    adapted = as_tensor.functions[0]
    assert adapted is not student and adapted.__wrapped__ is student
    model = torch.nn.Linear(3, 2)
    model(torch.ones(1, 3)).sum().backward()
    assert type(adapted(model)) is float and f"{adapted(model):.4f}"  # notebook 02's f-string works


# ----------------------------------------------------------------------------- training_step

def step_without_zero_grad(model, images, labels, optimizer, criterion):
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    norm = global_grad_norm(model)
    optimizer.step()
    return loss.item(), norm, outputs


def step_without_step(model, images, labels, optimizer, criterion):
    optimizer.zero_grad()
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    return loss.item(), global_grad_norm(model), outputs


def step_returning(order):
    """The reference step, returning its results re-arranged by ``order``."""
    def step(*args):
        loss, norm, outputs = practical.training_step(*args)
        return order(loss, norm, outputs, args[0], args[1])
    return step


def step_norm_before_backward(model, images, labels, optimizer, criterion):
    optimizer.zero_grad()
    norm = global_grad_norm(model)
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss.item(), norm, outputs


@pytest.mark.parametrize("function, expected", [
    (step_without_zero_grad, "Forgot optimizer.zero_grad(): gradients accumulate"),
    (step_without_step, "The weights did not change"),
    (step_norm_before_backward, "The norm is 0"),
    (step_returning(lambda loss, norm, out, model, images: (norm, loss, out)), "Loss and norm swapped"),
    (step_returning(lambda loss, norm, out, model, images: (loss, norm, model(images))), "Outputs after the step"),
    (step_returning(lambda loss, norm, out, model, images: (loss, norm)), "Return three things"),
])
def test_training_step_mistakes(function, expected):
    assert expected in wrong("training_step", function)


# ----------------------------------------------------------------------------- correct_predictions

@pytest.mark.parametrize("function, expected", [
    (lambda outputs, labels: (outputs.argmax(dim=0) == labels).sum().item(), "Argmax over the wrong dimension"),
    (lambda outputs, labels: (outputs.argmax(dim=1) == labels).float().mean().item(),
     "Returned a fraction instead of a count"),
    (lambda outputs, labels: (outputs.argmax(dim=1) != labels).sum().item(), "Counted the wrong predictions"),
])
def test_correct_predictions_mistakes(function, expected):
    assert expected in wrong("correct_predictions", function)


# ----------------------------------------------------------------------------- deep_mlp

def layers(activation, depth, width, first=784, last=10, flatten=True, after_output=False):
    """The layers of a deep MLP, with one thing changed: for building typical wrong answers."""
    built = [nn.Flatten()] if flatten else []
    sizes = [first] + [width] * depth
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        built += [nn.Linear(n_in, n_out), make_activation(activation)]
    built.append(nn.Linear(sizes[-1], last))
    return nn.Sequential(*built, *([make_activation(activation)] if after_output else []))


@pytest.mark.parametrize("function, expected", [
    (lambda a, d, w: layers(a, d, w, after_output=True), "Activation after the output layer"),
    (lambda a, d, w: layers(a, d + 1, w), "One hidden layer too many"),
    (lambda a, d, w: layers(a, d - 1, w) if d > 1 else nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
     "One hidden layer too few"),
    (lambda a, d, w: layers(a, d, w, flatten=False), "No Flatten: fails on [N, 1, 28, 28] images"),
    (lambda a, d, w: layers("ReLU", d, w), "Wrong activation"),
    (lambda a, d, w: list(layers(a, d, w)), "Returned a list of layers"),
    (lambda a, d, w: layers(a, d, w, last=1), "Layer sizes"),
])
def test_deep_mlp_mistakes(function, expected):
    assert expected in wrong("deep_mlp", function)


def test_deep_mlp_compares_structure_not_weights():
    result = run("deep_mlp", lambda a, d, w: layers(a, d, w))  # other weights, same layers
    assert result.status == "done" and "Flatten → Linear(784 → 16) → Tanh" in shown(result.message)


# ----------------------------------------------------------------------------- hints, answers file, export

@pytest.mark.parametrize("name", list(check.EXERCISES))
def test_hints_are_revealed_one_at_a_time(name):
    hints = check.EXERCISES[name].hints
    assert 2 <= len(hints) <= 3
    result = run(name, returns_none)  if len(check.EXERCISES[name].functions) == 1 else \
        run(name, returns_none, returns_none, returns_none)
    assert shown(result.hints) == ""
    for n in range(1, len(hints) + 1):
        result.hint_button.click()
        text = shown(result.hints)
        assert f"**Hint {n}.**" in text and hints[n - 1] in text and f"**Hint {n + 1}.**" not in text
    assert result.hint_button.disabled and result.hint_button.description == "No more hints"


def test_statuses_land_in_the_answers_file_and_in_the_export(tmp_path):
    viva.ask(["role"]).items["role"].textarea.value = "my answer"
    run("grad_norm", global_grad_norm)
    run("collapse", lambda f, s: (f.weight @ s.weight, s.bias))
    saved = answers(tmp_path)
    assert saved["role"] == "my answer"  # one file for viva answers and exercises
    assert saved["exercise:grad_norm"] == "done"
    assert saved["exercise:collapse"] == "tried: W₁W₂ in the wrong order"
    run("collapse", theory.collapse_two)
    assert answers(tmp_path)["exercise:collapse"] == "done"
    again = run("collapse", returns_none)  # back to the template: the attempt that passed is not undone
    assert answers(tmp_path)["exercise:collapse"] == "done" and "stays: done" in again.note.value

    text = handin.export_answers(tmp_path / "out.md").read_text(encoding="utf-8")
    section = text[text.index("## Exercises"):]
    assert text.index("## Notebook 06") < text.index("## Exercises")
    for exercise in check.EXERCISES.values():
        assert f"| {exercise.notebook} | `{exercise.name}`: {exercise.title} |" in section
    assert "`grad_norm`: the global gradient norm | done |" in section
    assert "`deep_mlp`: a deep MLP from the registry | not done yet |" in section
    assert "`collapse`: two Linear layers collapsed into one | done |" in section
    assert "_(no prediction committed)_" in section


def test_export_button_counts_exercises(tmp_path):
    run("grad_norm", global_grad_norm)
    box = viva.export_button(path=tmp_path / "exp.md")
    box.button.click()
    assert f"1 of {len(check.EXERCISES)} exercises done" in box.status.value


def test_unwritable_answers_file_is_reported_not_raised(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(ANSWERS_VARIABLE, str(tmp_path / "a-file" / "answers.json"))
    result = run("grad_norm", global_grad_norm)
    assert result.status == "done" and "not saved" in result.note.value


# ----------------------------------------------------------------------------- predict, then run

CHOICES = ["the same", "half", "far smaller"]


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    monkeypatch.setattr(checking, "_MEASURED", set())


def test_predict_saves_the_committed_choice_and_locks_it(tmp_path):
    box = check.predict("depth", "What happens?", CHOICES)
    box.button.click()
    assert "Choose one first" in shown(box.status) and "prediction:depth" not in answers(tmp_path)
    box.radio.value = "half"
    box.button.click()
    assert answers(tmp_path)["prediction:depth"] == "half"
    assert box.radio.disabled and box.button.disabled and "Committed: **half**" in shown(box.status)
    again = check.predict("depth", "What happens?", CHOICES)  # running the cell again: still locked
    assert again.radio.value == "half" and again.radio.disabled and again.button.disabled

    result = check.prediction_result("depth", "far smaller", "Because of *this* run's numbers.")
    assert "You predicted **half**; the run measured **far smaller**" in result.text
    assert "Because of *this* run's numbers." in shown(result)
    assert answers(tmp_path)["prediction:depth:measured"] == "far smaller"
    assert "✓" in check.prediction_result("depth", "half", "").text

    text = handin.export_markdown(answers(tmp_path))
    assert re.search(r"`depth` — What happens\? You predicted “half” \(committed [\d-]+ [\d:]+\); the run "
                     r"measured “half”\.", text)


def test_prediction_result_unattended_and_a_late_commit_is_noted(tmp_path):
    result = check.prediction_result("depth", "far smaller", "why")
    assert result.text.startswith("You did not commit a prediction") and "**far smaller**" in result.text
    assert not (tmp_path / "answers.json").exists()
    box = check.predict("depth", "What happens?", CHOICES)
    box.radio.value = "the same"
    box.button.click()
    assert answers(tmp_path)["prediction:depth:note"] == "committed after the measurement was shown"
    assert "(committed after the measurement was shown)" in handin.export_markdown(answers(tmp_path))


# ----------------------------------------------------------------------------- the notebooks and the instructor copies

def stub_cells(path: Path) -> list[tuple[str, str]]:
    """(exercise, source) of every "Your turn" cell of a notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(authoring.exercise_of(c), authoring._source(c)) for c in nb["cells"] if authoring.exercise_of(c)]


@pytest.mark.parametrize("name", list(check.EXERCISES))
def test_each_exercise_sits_in_its_notebook_with_its_check(name):
    exercise = check.EXERCISES[name]
    path = next(p for p in NOTEBOOKS if p.name.startswith(exercise.notebook))
    if not stub_cells(path):
        pytest.skip(f"notebook {exercise.notebook} has no exercise cells on this branch")
    sources = [authoring._source(c) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
               if c["cell_type"] == "code"]
    stub = next(i for i, s in enumerate(sources) if s.startswith(f"# Your turn: {name}\n"))
    for function in exercise.functions:
        assert re.search(rf"^def {function}\(", sources[stub], flags=re.M)
    assert re.search(rf"^{', '.join(exercise.functions)} = check\.{name}\(", sources[stub + 1], flags=re.M)
    assert "exercises as check" in sources[1] + sources[2]  # the imports cell


def test_solutions_render_fills_every_exercise_and_leaves_the_notebooks_alone(tmp_path, capsys):
    before = {p: p.read_bytes() for p in NOTEBOOKS}
    assert authoring.main(["--solutions", str(tmp_path / "instructor")]) == 0
    assert {p: p.read_bytes() for p in NOTEBOOKS} == before
    out = capsys.readouterr().out
    assert "01_activation_functions.ipynb: derivatives, collapse" in out
    rendered = sorted((tmp_path / "instructor").glob("*.ipynb"))
    assert [p.name for p in rendered] == [p.name for p in NOTEBOOKS]
    expected = {"derivatives": "return a * (1 - a)", "collapse": "second.weight @ first.weight",
                "grad_norm": "total += p.grad.norm(2).item() ** 2", "deep_mlp": "layers.append(nn.Linear(n_in, 10))",
                "training_step": "optimizer.zero_grad()", "correct_predictions": "outputs.argmax(dim=1) == labels"}
    for path in rendered:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
        for name, source in stub_cells(path):
            assert expected[name] in source
            assert not re.search(r"^\s*(\.\.\.|return \.\.\.|raise NotImplementedError)", source, flags=re.M), source


def test_rendered_solutions_pass_their_checks(tmp_path):
    authoring.main(["--solutions", str(tmp_path / "instructor")])
    for path in sorted((tmp_path / "instructor").glob("*.ipynb")):
        for name, source in stub_cells(path):
            namespace = {"torch": torch, "nn": nn, "make_activation": make_activation,
                         "global_grad_norm": global_grad_norm}
            exec(compile(source, f"{path.name}:{name}", "exec"), namespace)
            functions = [namespace[f] for f in check.EXERCISES[name].functions]
            assert run(name, *functions).status == "done", (path.name, name)


def test_solutions_refuse_to_overwrite_the_notebooks(capsys):
    assert authoring.main(["--solutions", str(authoring.NOTEBOOKS)]) == 1
    assert "choose another folder" in capsys.readouterr().err
