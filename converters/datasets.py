"""Image data sets: scikit-learn's digits (shipped, no download) and MNIST from idx files."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "digits", "mnist", "DEFAULT_MNIST_DIR"]

DEFAULT_MNIST_DIR = Path(
    os.environ.get(
        "NEUROEMU_MNIST", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)


@dataclass
class Dataset:
    """Train and test splits of images (N, C, H, W) in [0, 1] and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _split(x: np.ndarray, y: np.ndarray, n_train: int, name: str, seed: int) -> Dataset:
    order = np.random.default_rng(seed).permutation(len(x))
    tr, te = order[:n_train], order[n_train:]
    return Dataset(x[tr], y[tr], x[te], y[te], name)


def digits(seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """scikit-learn's 8x8 digits (1,797 images), scaled to [0, 1], split at random."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    return _split(x, y, int(round(len(x) * (1 - test_fraction))), "digits", seed)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", ndim, 4).astype(int)
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: {body.size} bytes for dims {tuple(dims)}")
    return body.reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(
        f"no {stem}[.gz] in {directory}; pass the MNIST directory (or set NEUROEMU_MNIST)"
    )


def mnist(
    directory: str | os.PathLike | None = None, n_train: int = 8000, seed: int = 0
) -> Dataset:
    """The 10,000 MNIST test images, split ``n_train`` for training and the rest for testing."""
    directory = Path(directory) if directory is not None else DEFAULT_MNIST_DIR
    x = _read_idx(_find(directory, "t10k-images-idx3-ubyte")).astype(np.float32)[:, None] / 255.0
    y = _read_idx(_find(directory, "t10k-labels-idx1-ubyte")).astype(np.int64)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels in {directory}")
    return _split(x, y, n_train, "mnist", seed)
