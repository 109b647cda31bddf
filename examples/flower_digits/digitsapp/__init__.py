"""digitsapp: a Flower / PyTorch app for handwritten digits."""
