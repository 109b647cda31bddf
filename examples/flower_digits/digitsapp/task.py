"""digitsapp: the model, the data loading and the train/test functions."""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    """A small MLP for 8×8 digit images."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def load_data(data_path: str, batch_size: int) -> DataLoader:
    """This node's digits: the .npz files (arrays x and y) in its data folder, pixels scaled to [0, 1].

    The only part of the app written for the deployment: Flower's simulation examples partition a
    public dataset by `partition-id`; a deployed node reads its own folder from `data-path`."""
    xs, ys = [], []
    for path in sorted(Path(data_path).glob("*.npz")):
        with np.load(path) as archive:
            xs.append(archive["x"])
            ys.append(archive["y"])
    x = torch.tensor(np.concatenate(xs).reshape(-1, 64) / 16.0, dtype=torch.float32)
    y = torch.tensor(np.concatenate(ys), dtype=torch.long)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)


def train(net: nn.Module, trainloader: DataLoader, epochs: int, lr: float, device: torch.device) -> float:
    """Train the model on the training set; the mean loss of the last epoch."""
    net.to(device)
    criterion = nn.CrossEntropyLoss().to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    net.train()
    running_loss = 0.0
    for _ in range(epochs):
        running_loss = 0.0
        for images, labels in trainloader:
            optimizer.zero_grad()
            loss = criterion(net(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * len(labels)
    return running_loss / len(trainloader.dataset)


def test(net: nn.Module, testloader: DataLoader, device: torch.device) -> tuple[float, float]:
    """Validate the model on the test set: (mean loss, accuracy)."""
    net.to(device)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    correct, loss = 0, 0.0
    net.eval()
    with torch.no_grad():
        for images, labels in testloader:
            outputs = net(images.to(device))
            loss += criterion(outputs, labels.to(device)).item()
            correct += (outputs.argmax(1) == labels.to(device)).sum().item()
    return loss / len(testloader.dataset), correct / len(testloader.dataset)
