"""Loihi's quantizer: float effective weights and biases (in the chip's units) onto its
mantissa and exponent grid, shared by :func:`converters.to_loihi` and the NIR import.

Weights get the smallest exponent whose mantissas hold the largest of them, biases the
smallest exponent whose mantissas hold the largest bias; what lies beyond is clipped and
counted.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..chips.loihi import (
    BIAS_EXP_RANGE,
    BIAS_MANT_RANGE,
    MANT_SHIFT,
    WEIGHT_EXP_RANGE,
    WEIGHT_MANT_RANGE,
    LoihiProjection,
)

__all__ = ["quantize_weights", "quantize_bias", "sparse_projection"]


def quantize_weights(
    w: np.ndarray, weight_bits: int = 8, min_exp: int = WEIGHT_EXP_RANGE[0]
) -> tuple[np.ndarray, int, int]:
    """Mantissas on the chip's grid and an exponent (at least ``min_exp``) for float
    effective weights ``w``.

    Returns (mantissa, exponent, number of clipped weights).
    """
    low, _ = WEIGHT_MANT_RANGE
    exp_high = WEIGHT_EXP_RANGE[1]
    grid = 2 ** (9 - weight_bits)  # mixed sign mode drops the low 9 - weight_bits bits
    top = -low - grid
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    exp = (
        min_exp
        if peak == 0
        else int(np.clip(np.ceil(np.log2(peak / top)) - MANT_SHIFT, min_exp, exp_high))
    )
    step = max(grid, 2**-exp if exp < 0 else 1)
    mant = np.rint(w / 2 ** (MANT_SHIFT + exp) / step) * step
    clipped = int(np.count_nonzero((mant > top) | (mant < low)))
    return np.clip(mant, low, top).astype(np.int16), exp, clipped


def quantize_bias(b: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Bias mantissas, the smallest exponent that holds them, and how many were clipped."""
    low, high = BIAS_MANT_RANGE
    peak = float(np.max(np.abs(b))) if b.size else 0.0
    exp = 0 if peak == 0 else int(np.clip(np.ceil(np.log2(peak / high)), *BIAS_EXP_RANGE))
    mant = np.rint(b / 2**exp)
    clipped = int(np.count_nonzero((mant > high) | (mant < low)))
    return np.clip(mant, low, high).astype(np.int32), exp, clipped


def sparse_projection(
    source: str, w: sp.coo_matrix, weight_bits: int = 8, min_exp: int = WEIGHT_EXP_RANGE[0]
) -> tuple[LoihiProjection, int, int]:
    """The projection from ``source`` of effective weights ``w`` (post x pre), with its
    clipped and its zeroed weights (those that round to a zero mantissa)."""
    mant, exp, clipped = quantize_weights(w.data, weight_bits, min_exp)
    keep = mant != 0
    zeroed = int(np.count_nonzero(~keep & (w.data != 0)))
    return LoihiProjection(source, w.col[keep], w.row[keep], mant[keep], exp), clipped, zeroed
