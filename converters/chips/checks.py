"""Documented ranges of every field of the chip records, checked on a network file's raw values."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["NetworkFormatError", "field_ranges", "check_fields"]

INDEX_MAX = 2**31 - 1


class NetworkFormatError(ValueError):
    """A file is not a neuroemu network file, or one of its fields is out of range."""


def _ints(low: int, high: int) -> tuple[str, int, int]:
    return ("int", low, high)


def _reals(low: float, high: float) -> tuple[str, float, float]:
    return ("real", low, high)


@functools.cache
def field_ranges() -> dict[str, dict[str, tuple]]:
    """Class name -> field -> (kind, low, high); ``None`` values pass (optional fields).

    Built on first use: the chip modules import :mod:`converters.chips.files`, which imports this.
    """
    from . import akida, loihi

    return {
        "LoihiProjection": {
            "pre": _ints(0, INDEX_MAX),
            "post": _ints(0, INDEX_MAX),
            "weight_mant": _ints(*loihi.WEIGHT_MANT_RANGE),
            "weight_exp": _ints(*loihi.WEIGHT_EXP_RANGE),
        },
        "LoihiConv": {
            "kernel_mant": _ints(*loihi.WEIGHT_MANT_RANGE),
            "weight_exp": _ints(*loihi.WEIGHT_EXP_RANGE),
            "source_shape": _ints(1, INDEX_MAX),
            "out_shape": _ints(1, INDEX_MAX),
            "stride": _ints(1, INDEX_MAX),
            "padding": _ints(0, INDEX_MAX),
            "dilation": _ints(1, INDEX_MAX),
            "groups": _ints(1, INDEX_MAX),
            "pool": _ints(1, INDEX_MAX),
        },
        "LoihiLayer": {
            "size": _ints(1, INDEX_MAX),
            "vth_mant": _ints(0, loihi.VTH_MANT_MAX),
            "bias_mant": _ints(*loihi.BIAS_MANT_RANGE),
            "bias_exp": _ints(*loihi.BIAS_EXP_RANGE),
            "decay_u": _ints(0, loihi.DECAY_ONE),
            "decay_v": _ints(0, loihi.DECAY_ONE),
            "refractory": _ints(1, loihi.REFRACTORY_MAX),
            "fan_in_split": _ints(1, INDEX_MAX),
            "shape": _ints(1, INDEX_MAX),
        },
        "LoihiInput": {"shape": _ints(1, INDEX_MAX), "scale": _reals(1e-30, 1e30)},
        "LoihiNet": {"timesteps": _ints(1, INDEX_MAX)},
        "AkidaLayer": {
            "input_shape": _ints(1, INDEX_MAX),
            "threshold": _ints(-(2**31), 2**31 - 1),
            "act_step": _reals(0.0, float(2**20)),
            "weight_bits": _ints(min(akida.WEIGHT_BITS), max(akida.WEIGHT_BITS)),
            "act_bits": _ints(min(akida.ACT_BITS), max(akida.ACT_BITS)),
            "stride": _ints(1, INDEX_MAX),
            "pool_size": _ints(1, INDEX_MAX),
            "pool_stride": _ints(1, INDEX_MAX),
        },
        "AkidaNet": {
            "input_shape": _ints(1, INDEX_MAX),
            "input_bits": _ints(1, akida.INPUT_CONV_BITS),
            "input_scale": _reals(1e-30, 1e30),
        },
    }


def _offending(arr: np.ndarray, kind: str, low: float, high: float) -> Any:
    """The first value of ``arr`` outside the range, or None when every value is inside."""
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        return arr.reshape(-1)[0] if arr.size else None
    flat = arr.reshape(-1)
    if kind == "int" and arr.dtype.kind == "f":
        return flat[0]  # floats where integers are expected: never truncated
    bad = ~np.isfinite(flat) if arr.dtype.kind == "f" else np.zeros(len(flat), bool)
    bad |= (flat < low) | (flat > high)
    return flat[bad][0] if bad.any() else None


def _check(where: str, value: Any, kind: str, low: float, high: float) -> None:
    if value is None:
        return
    arr = np.asarray(value)
    if arr.dtype == object or (arr.size and (bad := _offending(arr, kind, low, high)) is not None):
        shown = value if arr.dtype == object else bad.item()
        accepted = (
            f"integers in {low}..{high}"
            if kind == "int"
            else f"finite numbers in [{low:g}, {high:g}]"
        )
        raise NetworkFormatError(f"{where} = {shown!r} is out of range: accepted {accepted}")


def check_fields(cls_name: str, fields: dict[str, Any], where: str) -> None:
    """Raise NetworkFormatError naming the field, the value and the range of any field of
    ``fields`` (raw, not yet cast) outside the documented range of class ``cls_name``."""
    ranges = field_ranges().get(cls_name, {})
    for name, value in fields.items():
        if name in ranges:
            _check(f"{where}.{name}", value, *ranges[name])
    from . import akida

    if cls_name == "AkidaLayer" and isinstance(fields.get("weight_bits"), int):
        bits = fields["weight_bits"]
        if bits not in akida.WEIGHT_RANGES:
            raise NetworkFormatError(
                f"{where}.weight_bits = {bits!r} is out of range: accepted {akida.WEIGHT_BITS}"
            )
        _check(f"{where}.weights", fields.get("weights"), "int", *akida.weight_range(bits))
