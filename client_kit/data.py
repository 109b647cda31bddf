"""A trainer's private data: loading it from a folder, and splitting demo data across trainers.

Supported folder layouts (the first that matches wins):
- `*.npz`: arrays `x` (examples × features…) and `y` (integer labels); several files are concatenated.
- `*.csv`: a header row, numeric feature columns and one integer column named `label`.
- image folder: one sub-folder per class (its name is the label, sorted order gives the index)
  holding PNG/JPEG images; images are converted to grayscale float arrays in [0, 1].
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """The data folder is missing, empty, or does not fit the task's model."""


@dataclass(frozen=True)
class LocalData:
    x: np.ndarray
    y: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def sha256(self) -> str:
        """The data's fingerprint, whatever the files that held it: sha256 over the examples as
        little-endian float32 (their shape first) and the labels as little-endian int64. A task
        records its validation set's fingerprint on chain, so a keeper cannot score on another."""
        digest = hashlib.sha256()
        digest.update(json.dumps([list(self.x.shape), list(self.y.shape)]).encode())
        digest.update(np.ascontiguousarray(self.x, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(self.y, dtype="<i8").tobytes())
        return digest.hexdigest()

    def check_fits(self, feature_shape: tuple[int, ...], num_classes: int) -> None:
        """Refuse data the model cannot train on, before any training starts."""
        if tuple(self.x.shape[1:]) != tuple(feature_shape):
            raise DataError(
                f"data in {self.source} has examples of shape {tuple(self.x.shape[1:])}, "
                f"but the task's model expects {tuple(feature_shape)}"
            )
        if len(self) and (self.y.min() < 0 or self.y.max() >= num_classes):
            raise DataError(f"labels in {self.source} must lie in 0..{num_classes - 1}")


def load_folder(folder: Path) -> LocalData:
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    npz = sorted(folder.glob("*.npz"))
    if npz:
        return _load_npz(npz, folder)
    csvs = sorted(folder.glob("*.csv"))
    if csvs:
        return _load_csv(csvs, folder)
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if classes:
        return _load_images(classes, folder)
    raise DataError(f"data folder {folder} is empty: expected .npz, .csv or one sub-folder of images per class")


def _finish(xs: list[np.ndarray], ys: list[np.ndarray], folder: Path) -> LocalData:
    if not all(np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_ for a in (*xs, *ys)):
        raise DataError(f"data in {folder} must be numeric arrays")
    try:
        x = np.concatenate(xs).astype(np.float32)
        y = np.concatenate(ys).astype(np.int64)
    except ValueError as error:
        raise DataError(f"data in {folder} cannot be combined: {error}") from None
    if len(y) == 0:
        raise DataError(f"data folder {folder} holds no examples")
    if len(x) != len(y):
        raise DataError(f"data in {folder} has {len(x)} examples but {len(y)} labels")
    if not np.isfinite(x).all():
        raise DataError(f"data in {folder} contains NaN or infinite values")
    return LocalData(x, y, str(folder))


def _load_npz(files: list[Path], folder: Path) -> LocalData:
    xs, ys = [], []
    for path in files:
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "x" not in archive or "y" not in archive:
                    raise DataError(f"{path} must contain arrays named 'x' and 'y' (found {sorted(archive.files)})")
                xs.append(archive["x"])
                ys.append(archive["y"])
        except DataError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:  # object arrays, a broken file
            raise DataError(f"{path} is not a numeric .npz archive: {error}") from None
    return _finish(xs, ys, folder)


def _load_csv(files: list[Path], folder: Path) -> LocalData:
    xs, ys = [], []
    for path in files:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or "label" not in header:
                raise DataError(f"{path} needs a header row with a 'label' column")
            label_at = header.index("label")
            rows = [row for row in reader if row]
        try:
            table = np.array(rows, dtype=np.float64)
        except ValueError:
            raise DataError(f"{path} has non-numeric values") from None
        if table.ndim != 2 or table.shape[1] != len(header):
            raise DataError(f"{path} has rows of different lengths")
        ys.append(table[:, label_at].astype(np.int64))
        xs.append(np.delete(table, label_at, axis=1))
    return _finish(xs, ys, folder)


def _load_images(classes: list[Path], folder: Path) -> LocalData:
    from PIL import Image

    xs, ys = [], []
    for label, directory in enumerate(classes):
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
                with Image.open(path) as image:
                    xs.append(np.asarray(image.convert("L"), dtype=np.float32)[None] / 255.0)
                ys.append(np.array([label]))
    if not xs:
        raise DataError(f"no PNG/JPEG images under the class folders of {folder}")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise DataError(f"images in {folder} have different sizes: {sorted(shapes)[:3]}")
    return _finish(xs, ys, folder)


def dirichlet_partition(
    labels: np.ndarray, clients: int, alpha: float, seed: int, min_examples: int = 10
) -> list[np.ndarray]:
    """Non-IID split: each class is spread over clients by Dirichlet(alpha) proportions.

    Smaller alpha means more skew. Redraws until every client has at least `min_examples`.
    """
    if clients < 1:
        raise ValueError("clients must be >= 1")
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        shards: list[list[int]] = [[] for _ in range(clients)]
        for cls in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == cls))
            cuts = (np.cumsum(rng.dirichlet([alpha] * clients)) * len(members)).astype(int)[:-1]
            for shard, part in zip(shards, np.split(members, cuts), strict=True):
                shard.extend(part.tolist())
        if min(len(s) for s in shards) >= min_examples:
            return [np.sort(np.array(s, dtype=np.int64)) for s in shards]
    raise ValueError(f"could not give {clients} clients {min_examples} examples each with alpha={alpha}")


def write_npz(folder: Path, x: np.ndarray, y: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.npz"
    np.savez(path, x=x, y=y)
    return path
