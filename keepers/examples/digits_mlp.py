"""A small PyTorch classifier for scikit-learn's 8x8 digits: 64 inputs, one hidden layer, 10 classes.

This file is what an organization hands to `fedchain org build-client --model digits_mlp.py:DigitsMLP`;
its source is embedded into the task's client.py, so the hash on chain covers it.
"""

from torch import nn


class DigitsMLP(nn.Module):
    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.layers(x)
