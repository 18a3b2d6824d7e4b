"""Digests of numpy arrays by dtype, shape and contents (build keys, run inputs)."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["digest_arrays", "hash_arrays"]


def hash_arrays(h: hashlib._Hash, *arrays: np.ndarray) -> hashlib._Hash:
    """Feed each array's dtype, shape and bytes to the hash ``h``; return ``h``."""
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h


def digest_arrays(*arrays: np.ndarray) -> str:
    """A short SHA-256 digest of arrays' dtypes, shapes and contents (for build keys)."""
    return hash_arrays(hashlib.sha256(), *arrays).hexdigest()[:20]
