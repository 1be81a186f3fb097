# The practical's script as written: baseline (a) of benchmarks/speed.py.
#
# Everything above the "added for the benchmark" lines is the practical's code, unchanged
# (imports, MLP, data, training loop with the per-parameter gradient norm, the three plots).
# The benchmark runs it in a scratch folder whose ./data is the lab's MNIST, so nothing is
# downloaded, with matplotlib's non-interactive backend, so plt.show() returns at once.
# The additions only read the clock and measure test accuracy (which the practical never does),
# so that (a) and the engine can be compared at the same accuracy.
import time; _start = time.perf_counter()  # added for the benchmark

import torch
import torch.nn as nn
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms
from torch.utils.data import DataLoader
import matplotlib.pyplot as plt

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.5,), (0.5,))
])

train_dataset = torchvision.datasets.MNIST(root="./data", train=True, transform=transform, download=True)
train_loader = DataLoader(train_dataset, batch_size=64, shuffle=True)


class MLP(nn.Module):
    def __init__(self, activation):
        super(MLP, self).__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)
        self.activation = activation

    def forward(self, x):
        x = x.view(-1, 784)
        x = self.activation(self.fc1(x))
        x = self.activation(self.fc2(x))
        x = self.fc3(x)
        return x


_models = {}  # added for the benchmark


def train_model(activation_fn, epochs=5):
    model = MLP(activation_fn).to(device)
    _models[type(activation_fn).__name__] = model  # added for the benchmark
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    criterion = nn.CrossEntropyLoss()

    losses = []
    accuracies = []
    grad_norms = []

    for epoch in range(epochs):
        correct = 0
        total = 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)

            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()

            total_norm = 0
            for p in model.parameters():
                if p.grad is not None:
                    param_norm = p.grad.data.norm(2)
                    total_norm += param_norm.item() ** 2
            total_norm = total_norm ** 0.5
            grad_norms.append(total_norm)

            optimizer.step()

            losses.append(loss.item())
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

        acc = 100 * correct / total
        accuracies.append(acc)
        print(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.4f}, Accuracy: {acc:.2f}%")

    return losses, accuracies, grad_norms


EPOCHS = int(__import__("os").environ.get("PRACTICAL_EPOCHS", "5"))  # added for the benchmark
_train_start = time.perf_counter()  # added for the benchmark
activations = {"Sigmoid": nn.Sigmoid(), "Tanh": nn.Tanh(), "ReLU": nn.ReLU()}
results = {}
for name, act_fn in activations.items():
    print(f"\nTraining with {name} activation")
    results[name] = train_model(act_fn, epochs=EPOCHS)
_train_seconds = time.perf_counter() - _train_start  # added for the benchmark

plt.figure(figsize=(18, 5))

plt.subplot(1, 3, 1)
for name in results:
    plt.plot(results[name][0], label=name)
plt.title("Loss vs Iterations")
plt.xlabel("Iterations")
plt.ylabel("Loss")
plt.legend()

plt.subplot(1, 3, 2)
for name in results:
    plt.plot(results[name][1], label=name)
plt.title("Accuracy vs Epochs")
plt.xlabel("Epochs")
plt.ylabel("Accuracy (%)")
plt.legend()

plt.subplot(1, 3, 3)
for name in results:
    plt.plot(results[name][2], label=name)
plt.title("Gradient Norm vs Iterations")
plt.xlabel("Iterations")
plt.ylabel("Gradient Norm")
plt.legend()

plt.tight_layout()
plt.gcf().canvas.draw()  # added for the benchmark: draw the figure as a screen would (Agg's show() draws nothing)
_seconds_to_figure = time.perf_counter() - _start  # added for the benchmark
plt.show()

# ---- added for the benchmark: test accuracy (the practical does not measure it), one JSON line ----
import json  # noqa: E402

_test = torchvision.datasets.MNIST(root="./data", train=False, transform=transform, download=True)
_test_acc = {}
with torch.no_grad():
    for _name, _model in zip(activations, _models.values()):
        _right = sum((_model(x.to(device)).argmax(1) == y.to(device)).sum().item()
                     for x, y in DataLoader(_test, batch_size=1000))
        _test_acc[_name] = _right / len(_test)
print(json.dumps({"train_seconds": _train_seconds, "seconds_to_figure": _seconds_to_figure,
                  "test_acc": _test_acc, "iterations": {n: len(r[0]) for n, r in results.items()}}))
