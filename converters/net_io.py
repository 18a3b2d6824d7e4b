"""Saving, loading and hashing converted networks (any dataclass tree of arrays).

Arrays go into the archive under their path in the tree; everything else is kept in a
JSON description stored beside them. Only classes of the ``converters`` package load back, and every field is checked against
its documented range (:mod:`converters.net_checks`) before the record casts it.
:func:`digest` hashes the same description and every array's dtype, shape and bytes, so a
network's digest follows every field of every record without listing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .net_checks import NetworkFormatError, check_fields

__all__ = ["save_net", "load_net", "digest", "NetworkFormatError"]

FORMAT = "neuroemu-net"


def _encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        fields = {
            f.name: _encode(getattr(value, f.name), f"{path}.{f.name}", arrays)
            for f in dataclasses.fields(value)
        }
        return {"__class__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"__array__": path}
    if isinstance(value, list | tuple):
        items = [_encode(v, f"{path}[{k}]", arrays) for k, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        return {"__dict__": {str(k): _encode(v, f"{path}.{k}", arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__} at {path}")


def _decode(value: Any, arrays: dict[str, np.ndarray], path: str = "net") -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, f"{path}[{k}]") for k, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        if value["__array__"] not in arrays:
            raise NetworkFormatError(f"{path}: the array {value['__array__']!r} is missing")
        return arrays[value["__array__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, arrays, f"{path}[{k}]") for k, v in enumerate(value["__tuple__"]))
    if "__dict__" in value:
        return {k: _decode(v, arrays, f"{path}.{k}") for k, v in value["__dict__"].items()}
    module, _, name = str(value.get("__class__", "")).partition(":")
    if module.split(".")[0] != "converters":
        raise NetworkFormatError(
            f"refusing to load class {value.get('__class__')!r} outside the converters package"
        )
    cls = getattr(importlib.import_module(module), name, None)
    if cls is None or not dataclasses.is_dataclass(cls):
        raise NetworkFormatError(f"{path}: {value['__class__']} is not a network record")
    fields = {k: _decode(v, arrays, f"{path}.{k}") for k, v in dict(value["fields"]).items()}
    check_fields(name, fields, path)
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        obj = cls(**{k: v for k, v in fields.items() if k in init})
    except (TypeError, ValueError) as err:
        raise NetworkFormatError(f"{path}: {err}") from None
    for k, v in fields.items():
        if k not in init:
            setattr(obj, k, v)
    return obj


def save_net(net: Any, path: str | os.PathLike) -> Path:
    """Write a converted network (LoihiNet, AkidaNet, ...) to ``path`` (.npz)."""
    arrays: dict[str, np.ndarray] = {}
    description = _encode(net, "net", arrays)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            __description__=np.array(json.dumps({"format": FORMAT, "net": description})),
            **arrays,
        )
    os.replace(tmp, path)
    return path


def load_net(path: str | os.PathLike) -> Any:
    """Read a network written by :func:`save_net`, every field checked before any cast.

    Raises NetworkFormatError (a ValueError) for a file that is not one, is damaged, or
    holds a field outside its range.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        description = json.loads(str(arrays.pop("__description__")))
    except FileNotFoundError:
        raise
    except Exception as err:  # zipfile, zlib, numpy and json raise unrelated types
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise NetworkFormatError(
            f"{path} is not a neuroemu network file (empty, truncated or damaged): {reason}"
        ) from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise NetworkFormatError(f"{path} is not a neuroemu network file")
    try:
        return _decode(description["net"], arrays)
    except NetworkFormatError as err:
        raise NetworkFormatError(f"{path}: {err}") from None
    except (KeyError, TypeError, AttributeError, ImportError) as err:
        raise NetworkFormatError(f"{path} has a damaged description: {err!r}") from None


def digest(net: Any) -> str:
    """A hash of every field of a network record, recursively, stable across processes."""
    arrays: dict[str, np.ndarray] = {}
    description = _encode(net, "net", arrays)
    h = hashlib.sha256(json.dumps(description, sort_keys=True).encode())
    for path in sorted(arrays):
        a = np.ascontiguousarray(arrays[path])
        h.update(repr((path, a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
