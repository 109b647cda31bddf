"""A small CNN with batch normalisation for 8×8 digit images: the kind of model whose integer
buffers (BatchNorm's `num_batches_tracked`) must survive federated averaging untouched."""

from torch import nn


class DigitsCNN(nn.Module):
    def __init__(self, channels: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(channels * 16, classes),
        )

    def forward(self, x):
        return self.layers(x)
