"""A trainer's private data: loading it from a folder, and splitting demo data across trainers.

Supported folder layouts (the first that matches wins):
- `*.npz`: arrays `x` (examples × features…) and `y` (labels, or regression targets); several files
  are concatenated.
- `*.csv`: a header row, numeric feature columns and one column named `label` (the label or target).
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

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DataError(ValueError):
    """The data folder is missing, empty, or does not fit the task's model."""


@dataclass(frozen=True)
class LocalData:
    x: np.ndarray  # float32
    y: np.ndarray  # int64 when every label is a whole number, else float32 (regression targets)
    source: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def sha256(self) -> str:
        """The data's fingerprint, whatever the files that held it: sha256 over the examples as
        little-endian float32 (their shape first) and the labels as little-endian int64 (real-valued
        targets as float32, marked so). A task records its validation set's fingerprint on chain,
        so a keeper cannot score on another."""
        digest = hashlib.sha256()
        real = self.y.dtype.kind == "f"
        digest.update(json.dumps([list(self.x.shape), list(self.y.shape), *(["real"] if real else [])]).encode())
        digest.update(np.ascontiguousarray(self.x, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(self.y, dtype="<f4" if real else "<i8").tobytes())
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
        y = np.concatenate(ys)
    except ValueError as error:
        raise DataError(f"data in {folder} cannot be combined: {error}") from None
    if len(y) == 0:
        raise DataError(f"data folder {folder} holds no examples")
    if len(x) != len(y):
        raise DataError(f"data in {folder} has {len(x)} examples but {len(y)} labels")
    if not np.isfinite(x).all() or not np.isfinite(y.astype(np.float64)).all():
        raise DataError(f"data in {folder} contains NaN or infinite values")
    whole = y.dtype.kind in "biu" or bool((np.round(y) == y).all())
    return LocalData(x, y.astype(np.int64) if whole else y.astype(np.float32), str(folder))


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
        ys.append(table[:, label_at])
        xs.append(np.delete(table, label_at, axis=1))
    return _finish(xs, ys, folder)


def _load_images(classes: list[Path], folder: Path) -> LocalData:
    from PIL import Image

    xs, ys = [], []
    for label, directory in enumerate(classes):
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(path) as image:
                    xs.append(np.asarray(image.convert("L"), dtype=np.float32)[None] / 255.0)
                ys.append(np.array([label]))
    if not xs:
        raise DataError(f"no PNG/JPEG images under the class folders of {folder}")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise DataError(f"images in {folder} have different sizes: {sorted(shapes)[:3]}")
    return _finish(xs, ys, folder)


def write_subset(folder: Path, examples: int, rows: np.ndarray, destination: Path) -> None:
    """The examples at `rows` (indices in `load_folder`'s order) of a data folder holding
    `examples`, written to `destination` in the folder's own layout (same file names, class folders
    and columns): code that reads the folder itself, such as a Flower app, then reads exactly those."""
    wanted = np.zeros(examples, bool)
    wanted[rows] = True
    destination.mkdir(parents=True, exist_ok=True)
    start = 0
    for path in sorted(folder.glob("*.npz")):
        with np.load(path, allow_pickle=False) as archive:
            x, y = archive["x"], archive["y"]
        keep = wanted[start : start + len(y)]
        np.savez(destination / path.name, x=x[keep], y=y[keep])
        start += len(y)
    if start:
        return
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="") as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()]
        keep = wanted[start : start + len(lines) - 1]
        (destination / path.name).write_text("\n".join([lines[0], *np.asarray(lines[1:])[keep].tolist()]) + "\n")
        start += len(lines) - 1
    if start:
        return
    for directory in sorted(p for p in folder.iterdir() if p.is_dir()):
        (destination / directory.name).mkdir()  # every class keeps its folder, so labels keep their index
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                if wanted[start]:
                    (destination / directory.name / path.name).symlink_to(path.resolve())
                start += 1


def write_images(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Grayscale images (values in [0, 1]) as PNG files, one sub-folder per label (class-00, …)."""
    from PIL import Image

    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        directory = folder / f"class-{int(label):02d}"
        directory.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(np.asarray(image, np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(directory / f"{index:05d}.png")


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
