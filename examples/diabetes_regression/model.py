"""Example 2 — tabular regression: scikit-learn's diabetes data, with the organization's own loop.

Ten clinical features predict disease progression a year later (a number from 25 to 346). The
features are on different scales, so the task declares per-feature standardization
(`--standardize DATA_DIR`: the organization's mean and std, applied identically by trainers and the
keeper). The model predicts in the target's units; `train` and `evaluate` are the organization's
own — Adam with a cosine learning-rate schedule on the squared error of the standardized target —
and the task's metric is the mean squared error in the target's units (lower is better).

    fedchain org build-client --model examples/diabetes_regression/model.py:DiabetesRegressor \\
      --training examples/diabetes_regression/model.py --objective regression --metric mse \\
      --input-shape 10 --standardize ./org-sample
"""

import torch
from torch import nn

TARGET_MEAN, TARGET_STD = 152.0, 77.0  # the organization's scale of the target, known from its own records


class DiabetesRegressor(nn.Module):
    def __init__(self, features: int = 10, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return TARGET_MEAN + TARGET_STD * self.net(x).squeeze(-1)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: dict) -> float:
    """Adam on the squared error of the standardized target, the learning rate annealed over the epochs."""
    generator = torch.Generator().manual_seed(config["seed"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"])
    for _ in range(config["epochs"]):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), config["batch_size"]):
            batch = order[start : start + config["batch_size"]]
            optimizer.zero_grad()
            loss = (((model(x[batch]) - y[batch]) / TARGET_STD) ** 2).mean()
            loss.backward()
            optimizer.step()
        schedule.step()
    return evaluate(model, x, y)[0]


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(the standardized squared error the loop minimizes, the MSE in the target's units)."""
    with torch.no_grad():
        squared = (model(x) - y) ** 2
    return float(squared.mean() / TARGET_STD**2), float(squared.mean())
