"""Loading a trainer's data folder in each documented format, and the non-IID demo split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from client_kit.data import DataError, dirichlet_partition, load_folder, write_images, write_npz, write_subset


def test_npz_csv_and_image_folders_load_the_same_examples(tmp_path: Path) -> None:
    digits = load_digits()
    x, y = digits.data[:30].astype(np.float32), digits.target[:30]
    write_npz(tmp_path / "npz", x, y)
    (tmp_path / "csv").mkdir()
    header = ",".join([f"p{i}" for i in range(64)] + ["label"])
    rows = "\n".join(",".join(map(str, [*map(int, row), label])) for row, label in zip(x, y, strict=True))
    (tmp_path / "csv" / "part.csv").write_text(header + "\n" + rows + "\n")
    for index, (image, label) in enumerate(zip(digits.images[:30], y, strict=True)):
        folder = tmp_path / "img" / f"{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"{index}.png")

    npz, table = load_folder(tmp_path / "npz"), load_folder(tmp_path / "csv")
    assert np.array_equal(npz.x, table.x) and np.array_equal(npz.y, table.y)
    images = load_folder(tmp_path / "img")
    assert images.x.shape == (30, 8, 8) and len(images) == 30
    npz.check_fits((64,), 10)
    with pytest.raises(DataError, match="expects"):
        images.check_fits((64,), 10)


def test_bad_folders_get_plain_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_folder(tmp_path / "empty")
    (tmp_path / "nolabel").mkdir()
    (tmp_path / "nolabel" / "a.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="label"):
        load_folder(tmp_path / "nolabel")
    (tmp_path / "nan").mkdir()
    np.savez(tmp_path / "nan" / "d.npz", x=np.array([[np.nan]]), y=np.array([0]))
    with pytest.raises(DataError, match="NaN"):
        load_folder(tmp_path / "nan")
    (tmp_path / "badnpz").mkdir()
    np.savez(tmp_path / "badnpz" / "d.npz", features=np.zeros((2, 2)))
    with pytest.raises(DataError, match="'x' and 'y'"):
        load_folder(tmp_path / "badnpz")


def test_an_npz_of_objects_or_text_is_refused_plainly(tmp_path: Path) -> None:
    """Object arrays used to escape as numpy's ValueError (a traceback) instead of a DataError."""
    (tmp_path / "objects").mkdir()
    np.savez(tmp_path / "objects" / "d.npz", x=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataError, match="not a numeric .npz archive"):
        load_folder(tmp_path / "objects")
    (tmp_path / "text").mkdir()
    np.savez(tmp_path / "text" / "d.npz", x=np.array([["a", "b"]]), y=np.array([0]))
    with pytest.raises(DataError, match="must be numeric"):
        load_folder(tmp_path / "text")
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "d.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a numeric .npz archive"):
        load_folder(tmp_path / "truncated")


def test_dirichlet_partition_covers_every_example_once_and_is_skewed() -> None:
    labels = load_digits().target
    shards = dirichlet_partition(labels, clients=6, alpha=0.5, seed=7)
    joined = np.concatenate(shards)
    assert sorted(joined.tolist()) == list(range(len(labels)))
    assert min(len(s) for s in shards) >= 10
    histograms = np.array([np.bincount(labels[s], minlength=10) / len(s) for s in shards])
    assert histograms.std(axis=0).mean() > 0.03  # clearly non-IID
    assert all(np.array_equal(a, b) for a, b in zip(shards, dirichlet_partition(labels, 6, 0.5, 7), strict=True))


def test_a_subset_is_written_in_the_folders_own_layout(tmp_path: Path) -> None:
    """A Flower app reads its data folder itself: the keeper's scoring subsets must be folders it
    reads the same way, holding exactly the rows asked for, in every layout the runtime loads."""
    digits = load_digits()
    x, y = digits.images[:40], digits.target[:40]
    write_npz(tmp_path / "npz", x[:25], y[:25])
    np.savez(tmp_path / "npz" / "more.npz", x=x[25:], y=y[25:])  # two files, concatenated in name order
    write_images(tmp_path / "img", x / 16.0, y)
    (tmp_path / "csv").mkdir()
    table = np.column_stack([x.reshape(40, -1), y])
    header = ",".join([*(f"p{i}" for i in range(64)), "label"])
    (tmp_path / "csv" / "part.csv").write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in table) + "\n")
    wanted = np.array([0, 3, 24, 25, 39])
    for layout in ("npz", "img", "csv"):
        whole = load_folder(tmp_path / layout)
        write_subset(tmp_path / layout, len(whole), wanted, tmp_path / f"{layout}-subset")
        subset = load_folder(tmp_path / f"{layout}-subset")
        np.testing.assert_array_equal(subset.y, whole.y[wanted], err_msg=layout)
        np.testing.assert_allclose(subset.x, whole.x[wanted], err_msg=layout)


def test_real_valued_targets_load_as_floats_and_fingerprint_apart_from_labels(tmp_path: Path) -> None:
    write_npz(tmp_path / "whole", np.ones((3, 2)), np.array([1.0, 2.0, 3.0]))
    write_npz(tmp_path / "real", np.ones((3, 2)), np.array([1.5, 2.0, 3.0]))
    whole, real = load_folder(tmp_path / "whole"), load_folder(tmp_path / "real")
    assert whole.y.dtype == np.int64 and real.y.dtype == np.float32 and real.y[0] == 1.5
    assert whole.sha256() != real.sha256()
    write_npz(tmp_path / "broken", np.ones((2, 2)), np.array([1.0, np.nan]))
    with pytest.raises(DataError, match="NaN"):
        load_folder(tmp_path / "broken")
