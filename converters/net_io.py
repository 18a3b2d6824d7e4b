"""Saving, loading and hashing converted networks (any dataclass tree of arrays).

Arrays go into the archive under their path in the tree; everything else is kept in a
JSON description stored beside them. Only classes of the ``converters`` package load back.
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

__all__ = ["save_net", "load_net", "digest"]

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


def _decode(value: Any, arrays) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, arrays) for k, v in value["__dict__"].items()}
    module, _, name = value["__class__"].partition(":")
    if module.split(".")[0] != "converters":
        raise ValueError(
            f"refusing to load class {value['__class__']} outside the converters package"
        )
    cls = getattr(importlib.import_module(module), name)
    fields = {k: _decode(v, arrays) for k, v in value["fields"].items()}
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    obj = cls(**{k: v for k, v in fields.items() if k in init})
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
    """Read a network written by :func:`save_net`."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        description = json.loads(str(archive["__description__"]))
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path} is not a neuroemu network file: {err}") from err
    if description.get("format") != FORMAT:
        raise ValueError(f"{path} is not a neuroemu network file")
    return _decode(description["net"], archive)


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
