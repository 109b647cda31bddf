"""Example 1 — images: a small CNN with batch normalisation on image folders.

Trainers' data folders hold one sub-folder of PNG images per class (fedchain's image-folder layout;
the tests render scikit-learn's 8×8 digits that way). The runtime's own loop trains it (SGD with
momentum, cross-entropy) and reports accuracy. BatchNorm's `num_batches_tracked` is an integer
buffer: it must come through federated averaging untouched.

    fedchain org build-client --model examples/image_cnn/model.py:DigitsCNN --input-shape 1,8,8 --classes 10
"""

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
