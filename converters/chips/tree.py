"""A record tree (nets, layers, projections) as a JSON description and flat arrays.

:func:`encode` and :func:`decode` are the walk that network files are written and read with
(:mod:`converters.chips.files`); :func:`digest` hashes the same description and every array's
dtype, shape and bytes, so a network's digest follows every field of every record without
listing them. :func:`array_digest` hashes arrays alone the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from typing import Any

import numpy as np

from .checks import NetworkFormatError, check_fields

__all__ = ["encode", "decode", "digest", "array_digest", "hash_arrays"]


def encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """The JSON description of ``value``; its arrays go into ``arrays`` under their path."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        fields = {
            f.name: encode(getattr(value, f.name), f"{path}.{f.name}", arrays)
            for f in dataclasses.fields(value)
        }
        return {"__class__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"__array__": path}
    if isinstance(value, list | tuple):
        items = [encode(v, f"{path}[{k}]", arrays) for k, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        return {"__dict__": {str(k): encode(v, f"{path}.{k}", arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__} at {path}")


def decode(value: Any, arrays: dict[str, np.ndarray], path: str = "net") -> Any:
    """The records a description stands for, every field checked before its record casts it."""
    if isinstance(value, list):
        return [decode(v, arrays, f"{path}[{k}]") for k, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        if value["__array__"] not in arrays:
            raise NetworkFormatError(f"{path}: the array {value['__array__']!r} is missing")
        return arrays[value["__array__"]]
    if "__tuple__" in value:
        return tuple(decode(v, arrays, f"{path}[{k}]") for k, v in enumerate(value["__tuple__"]))
    if "__dict__" in value:
        return {k: decode(v, arrays, f"{path}.{k}") for k, v in value["__dict__"].items()}
    module, _, name = str(value.get("__class__", "")).partition(":")
    if module.split(".")[0] != "converters":
        raise NetworkFormatError(
            f"refusing to load class {value.get('__class__')!r} outside the converters package"
        )
    cls = getattr(importlib.import_module(module), name, None)
    if cls is None or not dataclasses.is_dataclass(cls):
        raise NetworkFormatError(f"{path}: {value['__class__']} is not a network record")
    fields = {k: decode(v, arrays, f"{path}.{k}") for k, v in dict(value["fields"]).items()}
    check_fields(cls, fields, path)
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        obj = cls(**{k: v for k, v in fields.items() if k in init})
    except (TypeError, ValueError) as err:
        raise NetworkFormatError(f"{path}: {err}") from None
    for k, v in fields.items():
        if k not in init:
            setattr(obj, k, v)
    return obj


def digest(net: Any) -> str:
    """A hash of every field of a network record, recursively, stable across processes."""
    arrays: dict[str, np.ndarray] = {}
    description = encode(net, "net", arrays)
    h = hashlib.sha256(json.dumps(description, sort_keys=True).encode())
    for path in sorted(arrays):
        _feed(h, arrays[path], path)
    return h.hexdigest()[:16]


def _feed(h: Any, array: np.ndarray, *key: str) -> None:
    """Hash ``key``, the array's dtype and shape, then its bytes (C order)."""
    a = np.ascontiguousarray(array)
    h.update(repr((*key, a.dtype.str, a.shape)).encode())
    h.update(a.tobytes())


def hash_arrays(h: Any, *arrays: np.ndarray) -> Any:
    """Feed each array's dtype, shape and bytes to the hash ``h``, in order; return ``h``."""
    for a in arrays:
        _feed(h, a)
    return h


def array_digest(*arrays: np.ndarray) -> str:
    """A hash of arrays' dtypes, shapes and contents, in order (20 hex digits)."""
    return hash_arrays(hashlib.sha256(), *arrays).hexdigest()[:20]
