"""The practical's own implementation, kept faithful on purpose: the baseline of ``speed.py``.

torchvision ``DataLoader`` with per-image ``ToTensor``/``Normalize``, the MLP, Adam 1e-3,
per-batch ``loss.item()`` and the per-parameter ``.norm(2).item()`` loop for the gradient
norm, per-epoch training accuracy, then test accuracy.  Do not optimise this file.
"""

from __future__ import annotations

import time

import torch
from torch import nn, optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

ACTIVATIONS = {"Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "ReLU": nn.ReLU}


class MLP(nn.Module):
    def __init__(self, activation: nn.Module):
        super().__init__()
        self.model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), activation,
            nn.Linear(256, 128), activation,
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.model(x)


def run_practical(activation: str, epochs: int, root: str, seed: int = 0, device: str = "cpu") -> dict:
    """Train one activation the practical's way; return its numbers and wall-clock seconds."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train_dataset = datasets.MNIST(root=root, train=True, transform=transform, download=True)
    test_dataset = datasets.MNIST(root=root, train=False, transform=transform, download=True)
    train_loader = DataLoader(train_dataset, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_dataset, batch_size=1000, shuffle=False)

    model = MLP(ACTIVATIONS[activation]()).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    losses, grad_norms, accuracies = [], [], []
    for epoch in range(epochs):
        correct, total = 0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
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
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
        accuracies.append(correct / total)

    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in test_loader:
            images, labels = images.to(device), labels.to(device)
            _, predicted = torch.max(model(images), 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return {"loss": losses, "grad_norm": grad_norms, "train_acc": accuracies,
            "test_acc": correct / total, "seconds": time.perf_counter() - start}
