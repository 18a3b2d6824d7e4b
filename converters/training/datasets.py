"""Image data sets: scikit-learn's digits (shipped, no download), MNIST from idx files, and
sample files, loaded and checked against a network's input."""

from __future__ import annotations

import gzip
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Dataset",
    "digits",
    "mnist",
    "load_samples",
    "default_samples",
    "check_labels",
    "check_shape",
    "DEFAULT_MNIST_DIR",
    "DIGITS_SHAPE",
    "MNIST_SHAPE",
]

DEFAULT_MNIST_DIR = Path(
    os.environ.get(
        "NEUROEMU_MNIST", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)
DIGITS_SHAPE = (1, 8, 8)
MNIST_SHAPE = (1, 28, 28)
LABEL_MAX = 2**15 - 1  # labels are stored as int16 in the traces


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


def default_samples(shape: tuple[int, ...] | None) -> str:
    """``"mnist"`` for a network reading (1, 28, 28) samples, else ``"digits"``."""
    return "mnist" if shape is not None and tuple(shape) == MNIST_SHAPE else "digits"


def load_samples(
    spec: str | None,
    split: str = "test",
    limit: int | None = None,
    mnist_dir: str | os.PathLike | None = None,
    shape: tuple[int, ...] | None = None,
    classes: int | None = None,
    option: str = "--data",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Samples (N, ...) and integer labels (or None) from ``digits``, ``mnist`` or a file.

    A file is an ``.npz`` holding ``x`` (and optionally ``y``) or an ``.npy`` of samples.
    ``spec`` None picks :func:`default_samples` of ``shape``. The samples are checked against
    ``shape`` and the labels against ``0..classes - 1`` (-1: unknown) before they are returned;
    ``option`` names the command-line option in the messages.
    """
    spec = default_samples(shape) if spec is None else spec
    if spec in ("digits", "mnist"):
        data = digits() if spec == "digits" else mnist(mnist_dir)
        x, y = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    else:
        x, y = _read_samples(Path(spec), option)
    if limit is not None:
        x, y = x[:limit], None if y is None else y[:limit]
    if shape is not None:
        check_shape(x, shape, option)
    return x, None if y is None else check_labels(y, len(x), classes)


def _read_samples(path: Path, option: str) -> tuple[np.ndarray, np.ndarray | None]:
    if path.suffix not in (".npz", ".npy") or not path.is_file():
        raise FileNotFoundError(
            f"{option} {str(path)!r} is neither 'digits', 'mnist' nor an existing .npy/.npz file"
        )
    try:
        archive = np.load(path, allow_pickle=False)
        if path.suffix == ".npy":
            return np.asarray(archive), None
        if "x" not in archive:
            raise ValueError(f"{path} must hold an array 'x' (and optionally 'y')")
        return archive["x"], archive.get("y")
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a readable numpy file: {err}") from err


def check_shape(x: np.ndarray, shape: tuple[int, ...], option: str = "--data") -> None:
    """Raise ValueError naming the fix unless the samples ``x`` are (N, *shape)."""
    shape = tuple(int(s) for s in shape)
    if x.ndim >= 1 and tuple(x.shape[1:]) == shape:
        return
    fixes = {MNIST_SHAPE: f"pass {option} mnist", DIGITS_SHAPE: f"pass {option} digits"}
    fix = fixes.get(
        shape, f"pass {option} with an .npz whose 'x' is (N, {', '.join(map(str, shape))})"
    )
    raise ValueError(
        f"the samples have shape {tuple(x.shape[1:])}, the network expects {shape}; {fix}"
    )


def check_labels(y: np.ndarray, n: int, classes: int | None = None) -> np.ndarray:
    """Labels as int64, refused unless integers in ``0..classes - 1`` or -1 (unknown)."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"the labels have shape {y.shape}, expected ({n},) for {n} samples")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
        bad = y[y != np.round(y)][:3] if y.dtype.kind == "f" else y[:3]
        raise ValueError(f"labels must be integers, got {bad.tolist()}")
    high = LABEL_MAX if classes is None else classes - 1
    out = (y < -1) | (y > high)
    if out.any():
        raise ValueError(f"labels must be in 0..{high} (-1: unknown), got {y[out][:3].tolist()}")
    return y.astype(np.int64)
