"""Answers the checks were not written for: right ones that must pass (and work in the next cell), wrong ones that
must be named, and the state a check keeps (issue: checks that judge what the code does)."""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from helpers import MLP, exercises as check
from helpers._machinery import checking, handin
from helpers.activations import make_activation
from helpers.practical import correct_predictions, global_grad_norm, training_step
from helpers.solutions import deep_mlp as reference_deep_mlp
from helpers.theory import collapse_two

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("student_session")  # tests/conftest.py: a fresh folder and answers file


def shown(out) -> str:
    return "".join(o["data"]["text/markdown"] for o in out.outputs if o["output_type"] == "display_data")


def run(name, *functions):
    return check.run_check(name, *functions, show=False)


def passes(name, *functions):
    result = run(name, *functions)
    assert result.status == "done", shown(result.message)
    return result


def named(name, expected, *functions):
    result = run(name, *functions)
    assert result.status.startswith("tried: "), shown(result.message)
    assert expected in shown(result.message), shown(result.message)
    return shown(result.message)


# ----------------------------------------------------------------------------- σ′, tanh′, ReLU′

def autograd_of(f):
    def derivative(z):
        z = z.detach().clone().requires_grad_(True)
        f(z).sum().backward()
        return z.grad
    return derivative


def sig(z):
    return torch.sigmoid(z) * (1 - torch.sigmoid(z))


def tanh_(z):
    return 1 - torch.tanh(z) ** 2


def relu_(z):
    return (z > 0).to(z.dtype)


SIGMOID_RIGHT = [
    lambda z: torch.exp(-z) / (1 + torch.exp(-z)) ** 2,
    autograd_of(torch.sigmoid),
    lambda z: torch.from_numpy(1 / (1 + np.exp(-z.numpy())) * (1 - 1 / (1 + np.exp(-z.numpy())))),
    lambda z: 0.25 * (1 - torch.tanh(z / 2) ** 2),
    lambda z: torch.special.expit(z) * torch.special.expit(-z),
    lambda z: (torch.sigmoid(z) - torch.sigmoid(z) ** 2).tolist(),
]
TANH_RIGHT = [
    lambda z: 1 / torch.cosh(z) ** 2,
    lambda z: 4 * torch.sigmoid(2 * z) * (1 - torch.sigmoid(2 * z)),
    autograd_of(torch.tanh),
    lambda z: torch.from_numpy(1 - np.tanh(z.numpy()) ** 2),
    lambda z: (1 - torch.tanh(z)) * (1 + torch.tanh(z)),
]
RELU_RIGHT = [
    lambda z: torch.where(z > 0, 1.0, 0.0),  # float32 whatever z is: the check hands the notebook z's dtype
    lambda z: torch.heaviside(z, torch.tensor(0.0, dtype=z.dtype)),
    lambda z: (z > 0).float(),
    lambda z: torch.from_numpy((z.numpy() > 0).astype(np.float64)),
    autograd_of(torch.relu),
    lambda z: torch.clamp(torch.sign(z), min=0),
]


@pytest.mark.parametrize("i", range(len(SIGMOID_RIGHT)))
def test_right_sigmoid_derivatives_pass(i):
    passes("derivatives", SIGMOID_RIGHT[i], tanh_, relu_)


@pytest.mark.parametrize("i", range(len(TANH_RIGHT)))
def test_right_tanh_derivatives_pass(i):
    passes("derivatives", sig, TANH_RIGHT[i], relu_)


@pytest.mark.parametrize("i", range(len(RELU_RIGHT)))
def test_right_relu_derivatives_pass_and_the_notebook_gets_z_s_dtype(i):
    result = passes("derivatives", sig, tanh_, RELU_RIGHT[i])
    z = torch.tensor([-5.0, 0.0, 2.0], dtype=torch.float64)
    out = result.functions[2](z)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("function, expected", [
    (lambda z: sig(z.clamp(-7, 7)), "Not the derivative** — at z = "),  # right on −6 … 6, wrong beyond
    (lambda z: torch.sigmoid(z) ** 2, "Not the derivative"),
    (lambda z: torch.sigmoid(z) * (1 + torch.sigmoid(z)), "Not the derivative"),
    (lambda z: torch.sigmoid(-z), "Only the factor 1 − σ(z)"),  # σ(−z) = 1 − σ(z)
    (lambda z: sig(z).to(torch.int64), "Values of type torch.int64"),
])
def test_wrong_sigmoid_derivatives_are_named(function, expected):
    named("derivatives", expected, function, tanh_, relu_)


@pytest.mark.parametrize("function, expected", [
    (lambda z: 1 - torch.tanh(z.clamp(-7, 7)) ** 2, "Not the derivative"),
    (lambda z: 1 - torch.tanh(z ** 2), "Not the derivative"),
    (lambda z: 2 * (1 - torch.tanh(z) ** 2), "Off by a constant factor"),
    (lambda z: torch.tanh(z) * (1 - torch.tanh(z)), "Not the derivative"),
    (lambda z: tanh_(z)[:-1] if z.dim() == 1 else tanh_(z), "Wrong shape"),
])
def test_wrong_tanh_derivatives_are_named(function, expected):
    named("derivatives", expected, sig, function, relu_)


@pytest.mark.parametrize("function, expected", [
    (lambda z: torch.sigmoid(1e5 * z), "Not the derivative"),  # a steep smooth step: wrong within 1e-5 of 0
    (lambda z: torch.relu(z) / z, "At z = 0"),
    (lambda z: torch.abs(torch.sign(z)), "Not the derivative"),
    (lambda z: torch.relu(z > 0), "Your function raised an error"),  # torch's NotImplementedError is theirs
    (lambda z: (z >= 0), "Values of type torch.bool"),
    (lambda z: z.relu_() * 0 + 1, "Changed its input"),
])
def test_wrong_relu_derivatives_are_named(function, expected):
    named("derivatives", expected, sig, tanh_, function)


def test_a_natural_wrong_guess_does_not_give_the_solution_away():
    text = named("derivatives", "Returned ReLU itself", sig, tanh_, torch.relu)
    assert "(z > 0)" not in text and ".to(" not in text
    text = named("derivatives", "forgot the square", sig, lambda z: 1 - torch.tanh(z), relu_)
    assert "** 2" not in text and "1 - torch.tanh" not in text


# ----------------------------------------------------------------------------- collapse

def np_collapse(f, s):
    W1, b1, W2, b2 = (t.detach().numpy() for t in (f.weight, f.bias, s.weight, s.bias))
    return W2 @ W1, W2 @ b1 + b2


def collapse_by_probing(f, s):
    with torch.no_grad():
        b = s(f(torch.zeros(1, f.in_features, dtype=f.weight.dtype)))[0]
        W = (s(f(torch.eye(f.in_features, dtype=f.weight.dtype))) - b).T
    return W, b


COLLAPSE_RIGHT = [
    lambda f, s: (torch.mm(s.weight, f.weight), torch.mv(s.weight, f.bias) + s.bias),
    lambda f, s: (torch.linalg.multi_dot([s.weight, f.weight]), s.weight @ f.bias + s.bias),
    np_collapse,
    collapse_by_probing,
    lambda f, s: (torch.einsum("ij,jk->ik", s.weight, f.weight), s(f.bias[None])[0]),
    lambda f, s: [s.weight.detach() @ f.weight.detach(), (s.weight @ f.bias + s.bias).detach()],
]


@pytest.mark.parametrize("i", range(len(COLLAPSE_RIGHT)))
def test_right_collapses_pass_and_give_the_notebook_tensors(i):
    result = passes("collapse", COLLAPSE_RIGHT[i])
    first, second = nn.Linear(3, 4).double(), nn.Linear(4, 2).double()
    W, b = result.functions[0](first, second)
    assert isinstance(W, torch.Tensor) and W.dtype == torch.float64 and W.shape == (2, 3)


@pytest.mark.parametrize("function, expected", [
    (lambda f, s: ((s.weight @ f.weight).float(), (s.weight @ f.bias + s.bias).float()), "W or b in torch.float32"),
    (lambda f, s: s.weight @ f.weight, "Return (W, b)"),
    (lambda f, s: (s.weight @ f.bias + s.bias, s.weight @ f.weight), "Wrong shapes"),
    (lambda f, s: (s.weight @ f.weight.T, s.weight @ f.bias + s.bias), "W is not the product"),
    (lambda f, s: (f.weight.T @ s.weight.T, s.weight @ f.bias + s.bias), "W transposed"),  # (W₂W₁)ᵀ
    (lambda f, s: (s.weight @ f.weight, f.weight @ s.bias + f.bias), "The biases in the wrong order"),
    (lambda f, s: (s.weight @ f.weight, s.weight @ (f.bias + s.bias)), "B is not the combined bias"),
    (lambda f, s: ("W", "b"), "W and b must be tensors"),
])
def test_wrong_collapses_are_named(function, expected):
    named("collapse", expected, function)


# ----------------------------------------------------------------------------- grad_norm

def clip_inf(m):
    return torch.nn.utils.clip_grad_norm_(m.parameters(), float("inf"))  # clips nothing, returns the norm


GRAD_NORM_RIGHT = [
    clip_inf,
    lambda m: np.linalg.norm(np.concatenate([p.grad.numpy().ravel() for p in m.parameters()])),
    lambda m: torch.cat([p.grad.flatten() for p in m.parameters()]).norm(),
    lambda m: math.sqrt(sum((p.grad ** 2).sum().item() for p in m.parameters())),
    lambda m: torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in m.parameters()])),
    lambda m: torch.cat([p.grad.flatten() for p in m.parameters()]).norm().reshape(1),  # shape [1]
    lambda m: np.float32(global_grad_norm(m)),
]


@pytest.mark.parametrize("i", range(len(GRAD_NORM_RIGHT)))
def test_right_grad_norms_pass_and_give_the_notebook_a_float(i):
    result = passes("grad_norm", GRAD_NORM_RIGHT[i])
    model = nn.Linear(3, 2)
    model(torch.ones(1, 3)).sum().backward()
    value = result.functions[0](model)
    assert type(value) is float and f"{value:.6f}"  # notebook 02's next cell formats it
    assert math.isclose(value, global_grad_norm(model), rel_tol=1e-5)


@pytest.mark.parametrize("function, expected", [
    (lambda m: torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0).item(), "Changed the gradients"),
    (lambda m: max(p.grad.abs().max().item() for p in m.parameters()), "Not the global norm"),
    (lambda m: [p.grad.norm().item() for p in m.parameters()], "The norm is not a number"),
    (lambda m: torch.stack([p.grad.norm() for p in m.parameters()]), "The norm is 6 numbers"),
    (lambda m: math.sqrt(sum(p.norm().item() ** 2 for p in m.parameters())), "Not the global norm"),
    (lambda m: True, "The norm is True/False"),
    (lambda m: next(m.parameters()).grad.norm().item(), "Not the global norm"),
])
def test_wrong_grad_norms_are_named(function, expected):
    named("grad_norm", expected, function)


def test_rounding_is_never_shown_as_two_equal_numbers():
    assert checking.both(0.32921, 0.32926) == "0.3292 and 0.3293"
    assert checking.both(0.329211, 0.329212) == "0.329211 and 0.329212"
    text = named("grad_norm", "Off by a constant factor", lambda m: 1.01 * global_grad_norm(m))
    first, second = re.search(r"are ([\d.]+) and ([\d.]+)", text).groups()
    assert first != second


# ----------------------------------------------------------------------------- training_step

def step_with(change):
    """The reference step with one line changed by ``change`` (a function of the finished pieces)."""
    def step(model, images, labels, optimizer, criterion):
        optimizer.zero_grad()
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss.backward()
        norm = global_grad_norm(model)
        optimizer.step()
        return change(loss, norm, outputs, model)
    return step


def step_zero_grad_at_the_end(model, images, labels, optimizer, criterion):
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    norm = clip_inf(model)
    optimizer.step()
    optimizer.zero_grad()
    return float(loss), norm, outputs


def step_model_zero_grad(model, images, labels, optimizer, criterion):
    model.zero_grad()
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    norm = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    optimizer.step()
    return loss.detach(), norm, outputs.detach()


TRAINING_STEP_RIGHT = [
    step_zero_grad_at_the_end,
    step_model_zero_grad,
    step_with(lambda loss, norm, outputs, model: (np.float64(loss.item()), norm, outputs)),
    step_with(lambda loss, norm, outputs, model: (loss, torch.tensor(norm), outputs)),  # 0-d tensors
    step_with(lambda loss, norm, outputs, model: [loss.item(), norm, outputs.detach()]),
]


@pytest.mark.parametrize("i", range(len(TRAINING_STEP_RIGHT)))
def test_right_training_steps_pass_and_give_the_notebook_floats(i):
    result = passes("training_step", TRAINING_STEP_RIGHT[i])
    model = MLP("Tanh", hidden=(8,))
    loss, norm, outputs = result.functions[0](model, torch.randn(4, 1, 28, 28), torch.tensor([1, 2, 3, 4]),
                                              torch.optim.Adam(model.parameters()), nn.CrossEntropyLoss())
    assert type(loss) is float and type(norm) is float and outputs.shape == (4, 10)


def step_fresh_adam(model, images, labels, optimizer, criterion):
    return training_step(model, images, labels, torch.optim.Adam(model.parameters(), lr=1e-3), criterion)


def step_backward_after_step(model, images, labels, optimizer, criterion):
    optimizer.zero_grad()
    outputs = model(images)
    loss = criterion(outputs, labels)
    optimizer.step()
    loss.backward()
    return loss.item(), global_grad_norm(model), outputs


def step_mse(model, images, labels, optimizer, criterion):
    return training_step(model, images, labels, optimizer,
                         lambda out, y: nn.functional.mse_loss(out, nn.functional.one_hot(y, 10).float()))


def step_norm_after_zero_grad(model, images, labels, optimizer, criterion):
    optimizer.zero_grad()
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item(), global_grad_norm(model), outputs


@pytest.mark.parametrize("function, expected", [
    (step_fresh_adam, "Made its own optimizer"),
    (step_backward_after_step, "The weights did not change"),
    (step_mse, "Not this batch's loss"),
    (step_norm_after_zero_grad, "The norm is 0"),
    (step_with(lambda loss, norm, outputs, model: (loss.item(), norm ** 2, outputs)), "Not this step's gradient norm"),
    (step_with(lambda loss, norm, outputs, model: (loss.item(), norm, outputs.argmax(1))), "Not this batch's outputs"),
])
def test_wrong_training_steps_are_named(function, expected):
    named("training_step", expected, function)


# ----------------------------------------------------------------------------- correct_predictions

CORRECT_PREDICTIONS_RIGHT = [
    lambda outputs, labels: int((outputs.argmax(1) == labels).sum()),
    lambda outputs, labels: (outputs.max(dim=1).indices == labels).sum(),  # a 0-d tensor
    lambda outputs, labels: np.sum(outputs.detach().numpy().argmax(axis=1) == labels.numpy()),  # np.int64
    lambda outputs, labels: sum(int(o.argmax()) == int(y) for o, y in zip(outputs, labels)),
    lambda outputs, labels: torch.eq(torch.argmax(outputs, -1), labels).count_nonzero().item(),
    lambda outputs, labels: (outputs.argmax(1) == labels).float().sum().item(),  # 4.0: a whole float
]


@pytest.mark.parametrize("i", range(len(CORRECT_PREDICTIONS_RIGHT)))
def test_right_counts_pass_and_give_the_notebook_an_int(i):
    result = passes("correct_predictions", CORRECT_PREDICTIONS_RIGHT[i])
    outputs = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    assert result.functions[0](outputs, torch.tensor([1, 1, 1])) == 2
    assert type(result.functions[0](outputs, torch.tensor([1, 1, 1]))) is int


@pytest.mark.parametrize("function, expected", [
    (lambda outputs, labels: int((outputs.numpy().argmax(1) == labels.numpy()).sum()),
     "Your function raised an error"),  # the outputs of a model require grad: .numpy() fails in the loop too
    (lambda outputs, labels: len(labels), "Counted every image"),
    (lambda outputs, labels: 0, "Not the count"),
    (lambda outputs, labels: outputs.argmax(1) == labels, "The count is 10 numbers"),
    (lambda outputs, labels: (outputs.argmax(1) == labels).sum().item() + 1, "Not the count"),
    (lambda outputs, labels: 100 * (outputs.argmax(1) == labels).float().mean().item(), "Returned a percentage"),
])
def test_wrong_counts_are_named(function, expected):
    text = named("correct_predictions", expected, function)
    if expected == "Not the count":
        assert "Argmax over the wrong dimension" not in text


# ----------------------------------------------------------------------------- deep_mlp

def shared_activation(activation, depth, width):
    act = make_activation(activation)  # one instance, used after every hidden layer
    layers, n_in = [nn.Flatten()], 784
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), act]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, 10))


class ModuleListNet(nn.Module):
    def __init__(self, activation, depth, width):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(784 if i == 0 else width, width) for i in range(depth))
        self.f = make_activation(activation)
        self.out = nn.Linear(width, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        for layer in self.hidden:
            x = self.f(layer(x))
        return self.out(x)


class OutputFirstNet(nn.Module):
    def __init__(self, activation, depth, width):
        super().__init__()
        self.head = nn.Linear(width, 10)  # defined before the hidden layers, run after them
        self.body = nn.Sequential(*[m for i in range(depth)
                                    for m in (nn.Linear(784 if i == 0 else width, width), make_activation(activation))])

    def forward(self, x):
        return self.head(self.body(x.flatten(1)))


class FunctionalNet(ModuleListNet):
    def forward(self, x):
        x = torch.flatten(x, 1)
        for layer in self.hidden:
            x = getattr(torch, type(self.f).__name__.lower())(layer(x))  # torch.tanh, torch.relu
        return self.out(x)


def named_layers(activation, depth, width):
    items, n_in = [("flatten", nn.Flatten())], 784
    for i in range(depth):
        items += [(f"fc{i}", nn.Linear(n_in, width)), (f"act{i}", make_activation(activation))]
        n_in = width
    return nn.Sequential(OrderedDict(items + [("out", nn.Linear(n_in, 10))]))


DEEP_MLP_RIGHT = [
    reference_deep_mlp, shared_activation, ModuleListNet, OutputFirstNet, FunctionalNet, named_layers,
    lambda activation, depth, width: MLP(activation, hidden=(width,) * depth),
]


@pytest.mark.parametrize("i", range(len(DEEP_MLP_RIGHT)))
def test_right_deep_mlps_pass(i):
    passes("deep_mlp", DEEP_MLP_RIGHT[i])


def changed(change):
    def build(activation, depth, width):
        model = reference_deep_mlp(activation, depth, width)
        change(model)
        return model
    return build


def without_bias(activation, depth, width):
    layers, n_in = [nn.Flatten()], 784
    for _ in range(depth):
        layers += [nn.Linear(n_in, width, bias=False), make_activation(activation)]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, 10, bias=False))


class Detached(ModuleListNet):
    def forward(self, x):
        x = self.f(self.hidden[0](x.flatten(1))).detach()  # cuts layer 1 off from the loss
        for layer in self.hidden[1:]:
            x = self.f(layer(x))
        return self.out(x)


@pytest.mark.parametrize("function, expected", [
    (without_bias, "No biases"),
    (changed(lambda m: [nn.init.zeros_(p) for p in m.parameters()]), "All weights of a layer equal"),
    (changed(lambda m: [p.requires_grad_(False) for p in m.parameters()]), "Frozen parameters"),
    (lambda a, d, w: nn.Sequential(*reference_deep_mlp(a, d, w)[:-1], nn.Dropout(0.2),
                                   reference_deep_mlp(a, d, w)[-1]), "Dropout not asked for"),
    (lambda a, d, w: nn.Sequential(*reference_deep_mlp(a, d, w)[:-1], nn.BatchNorm1d(w),
                                   reference_deep_mlp(a, d, w)[-1]), "BatchNorm1d not asked for"),
    (Detached, "No gradient reaches Linear layer 1"),
    (lambda a, d, w: reference_deep_mlp("Sigmoid", d, w), "Wrong activation"),
    (lambda a, d, w: reference_deep_mlp(a, d, 2 * w), "Layer sizes"),
])
def test_wrong_deep_mlps_are_named(function, expected):
    text = named("deep_mlp", expected, function)
    if "not asked for" in expected:
        assert "Wrong activation" not in text


# ----------------------------------------------------------------------------- the student's own errors and time

def test_an_error_in_the_student_s_code_is_shown_as_theirs_with_its_line():
    def grad_norm(model):
        total = 0.0
        total += 1 / 0
        return total

    text = named("grad_norm", "Your function raised an error", grad_norm)
    assert "ZeroDivisionError: division by zero" in text and "`total += 1 / 0`" in text and "line" in text


def test_the_template_s_return_ellipsis_kept_says_why_and_is_not_a_stub():
    def grad_norm(model):
        """The template, with its body half filled in."""
        total = sum(p.grad.norm() ** 2 for p in model.parameters())  # noqa: F841
        return ...

    text = named("grad_norm", "Still returns `...`", grad_norm)
    assert "Not done yet" not in text


def test_forgetting_return_is_named():
    def grad_norm(model):
        math.sqrt(sum(p.grad.norm().item() ** 2 for p in model.parameters()))

    named("grad_norm", "Returned None", grad_norm)


def test_a_function_that_runs_too_long_is_stopped_without_stopping_the_kernel(monkeypatch):
    monkeypatch.setattr(checking, "TIME_LIMIT", 0.5)

    def grad_norm(model):
        try:
            time.sleep(30)
        except Exception:  # noqa: BLE001 - a student's catch-all must not swallow the stop
            pass
        return 1.0

    start = time.perf_counter()
    named("grad_norm", "Stopped after 0.5 s", grad_norm)
    assert time.perf_counter() - start < 5
    passes("grad_norm", global_grad_norm)  # and the next check runs as usual


def test_a_status_never_goes_back_to_not_done(tmp_path):
    def stub(model):
        ...

    passes("grad_norm", global_grad_norm)
    again = run("grad_norm", stub)
    saved = json.loads((tmp_path / "answers.json").read_text(encoding="utf-8"))
    assert saved["exercise:grad_norm"] == "done" and "stays: done" in again.note.value


def test_a_prediction_committed_after_the_measurement_is_late_even_after_a_restart(tmp_path, monkeypatch):
    run("grad_norm", global_grad_norm)  # the student has an answers file already
    check.prediction_result("depth", "far smaller", "why")
    monkeypatch.setattr(checking, "_MEASURED", set())
    monkeypatch.setattr(checking, "_COMMITTED", {})  # a kernel restart forgets what this session saw
    box = check.predict("depth", "What happens?", ["the same", "far smaller"])
    box.radio.value = "the same"
    box.button.click()
    saved = json.loads((tmp_path / "answers.json").read_text(encoding="utf-8"))
    assert saved["prediction:depth:note"] == "committed after the measurement was shown"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", saved["prediction:depth:committed_at"])
    assert "(committed after the measurement was shown)" in handin.export_markdown(saved)


# ----------------------------------------------------------------------------- the notebooks' own cells

def cells(notebook: str) -> dict[str, str]:
    path = next((ROOT / "notebooks").glob(f"{notebook}_*.ipynb"))
    return {c["id"]: "".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"}


def run_cells(notebook: str, ids: list[str], replace: dict[str, str], namespace: dict | None = None) -> dict:
    """Run the notebook's own code cells ``ids`` in order in one namespace, stub cells replaced by ``replace``."""
    source, namespace = cells(notebook), namespace if namespace is not None else {}
    for cell_id in ids:
        exec(compile(replace.get(cell_id, source[cell_id]), f"<{notebook} {cell_id}>", "exec"), namespace)
    return namespace


@pytest.fixture
def agg(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.setenv("LAB_STRICT_CLAIMS", "1")


def test_notebook_01_runs_on_with_other_right_answers(agg):
    replace = {
        "c01-ex2": "import numpy as np\n"
                   "def collapse_two(first, second):\n"
                   "    W1, b1, W2, b2 = (t.detach().numpy() for t in (first.weight, first.bias, second.weight, "
                   "second.bias))\n"
                   "    return W2 @ W1, W2 @ b1 + b2\n",
        "c01-ex6": "import numpy as np\n"
                   "def sigmoid_derivative(z):\n    return torch.exp(-z) / (1 + torch.exp(-z)) ** 2\n"
                   "def tanh_derivative(z):\n    return torch.from_numpy(1 - np.tanh(z.numpy()) ** 2)\n"
                   "def relu_derivative(z):\n    return torch.where(z > 0, 1.0, 0.0)\n",
    }
    ids = ["c01-03", "c01-05", "c01-ex2", "c01-ex3", "c01-ex4", "c01-ex6", "c01-ex7", "c01-26"]
    namespace = run_cells("01", ids, replace)
    assert namespace["two_gap"] < 1e-12


def test_notebook_02_runs_on_with_other_right_answers(agg):
    source = cells("02")
    ids = list(source)[:list(source).index("c02-ex3") + 1]
    replace = {"c02-32": "import numpy as np\n"
                         "def grad_norm(model):\n"
                         "    return np.linalg.norm(np.concatenate([p.grad.numpy().ravel() for p in "
                         "model.parameters()]))\n"}
    namespace = run_cells("02", ids, replace)
    assert type(namespace["by_hand"]) is float


def test_notebook_03_runs_on_with_other_right_answers(agg):
    replace = {
        "c03-04": "import ipywidgets as widgets\npicker = widgets.Dropdown(options=['ReLU'], value='ReLU')\n",
        "c03-31": "def training_step(model, images, labels, optimizer, criterion):\n"
                  "    model.zero_grad()\n    outputs = model(images)\n    loss = criterion(outputs, labels)\n"
                  "    loss.backward()\n"
                  "    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float('inf'))\n"
                  "    optimizer.step()\n    return loss.detach(), norm, outputs\n",
        "c03-33": "import numpy as np\n"
                  "def correct_predictions(outputs, labels):\n"
                  "    return np.sum(outputs.detach().numpy().argmax(axis=1) == labels.numpy())\n",
    }
    namespace = run_cells("03", ["c03-02", "c03-04", "c03-05", "c03-31", "c03-32", "c03-33", "c03-34", "c03-36"],
                          replace)
    assert len(namespace["mine"].loss) == 200 and all(type(v) is float for v in namespace["mine"].loss)


def test_notebook_05_runs_on_with_other_right_answers(agg):
    namespace = run_cells("05", ["c05-02", "c05-04"], {})
    from helpers.flow import first_last_ratio, layer_grad_norms_at_init
    from helpers.model import build_mlp
    deep = 10  # notebook 05's deepest trained network; rdeep as its §3 computes it, without the sweeps
    namespace.update(deep=deep, rdeep={"Sigmoid": first_last_ratio(layer_grad_norms_at_init(
        build_mlp("Sigmoid", 0, hidden=(namespace["WIDTH"],) * deep), namespace["x_batch"], namespace["y_batch"]))})
    replace = {"c05-ex2": "class deep_mlp(nn.Module):\n"
                          "    def __init__(self, activation, depth, width):\n"
                          "        super().__init__()\n"
                          "        self.out = nn.Linear(width, 10)\n"
                          "        self.hidden = nn.ModuleList(nn.Linear(784 if i == 0 else width, width) "
                          "for i in range(depth))\n"
                          "        self.f = make_activation(activation)\n"
                          "    def forward(self, x):\n"
                          "        x = x.flatten(1)\n"
                          "        for layer in self.hidden:\n"
                          "            x = self.f(layer(x))\n"
                          "        return self.out(x)\n"}
    namespace.setdefault("make_activation", make_activation)
    run_cells("05", ["c05-ex2", "c05-ex3"], replace, namespace)
    assert namespace["mine_ratio"] < 1e-5
