"""Saving and loading converted networks as one .npz archive (any record tree of arrays).

Arrays go into the archive under their path in the tree; everything else is kept in a
JSON description stored beside them (:mod:`converters.chips.tree` walks the records).
Only classes of the ``converters`` package load back, and every field is checked against
the range its record declares (:mod:`converters.chips.checks`) before the record casts it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..resources import ResourceLimitError, check_fits
from .checks import NetworkFormatError
from .tree import decode, digest, encode

__all__ = ["save_net", "load_net", "digest", "NetworkFormatError"]

FORMAT = "neuroemu-net"
MAX_DESCRIPTION_BYTES = 64 << 20  # the JSON description of a network
MAX_ARRAY_BYTES = 16 << 30  # all arrays of one network file, decompressed


def save_net(net: Any, path: str | os.PathLike) -> Path:
    """Write a converted network (LoihiNet, AkidaNet, ...) to ``path`` (.npz)."""
    arrays: dict[str, np.ndarray] = {}
    description = encode(net, "net", arrays)
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
        description, arrays = read_bounded(path)
    except (FileNotFoundError, ResourceLimitError):
        raise
    except Exception as err:  # zipfile, zlib, numpy and json raise unrelated types
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise NetworkFormatError(
            f"{path} is not a neuroemu network file (empty, truncated or damaged): {reason}"
        ) from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise NetworkFormatError(f"{path} is not a neuroemu network file")
    try:
        return decode(description["net"], arrays)
    except NetworkFormatError as err:
        raise NetworkFormatError(f"{path}: {err}") from None
    except (KeyError, TypeError, AttributeError, ImportError) as err:
        raise NetworkFormatError(f"{path} has a damaged description: {err!r}") from None
    except RecursionError:
        raise NetworkFormatError(f"{path}: the description is nested too deeply") from None


def read_bounded(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    """The description of a network file and the arrays it names, nothing else.

    Each array's size is taken from its ``.npy`` header and checked (with the others)
    against :data:`MAX_ARRAY_BYTES` and the available memory before it is read, and it
    is decompressed only up to that size; members the description does not name are
    never decompressed.
    """
    with zipfile.ZipFile(path) as archive:
        text = _member(archive, "__description__", MAX_DESCRIPTION_BYTES)
        description = json.loads(str(text))
        names = set(_array_names(description))
        sizes = {}
        for name in sorted(names & {n.removesuffix(".npy") for n in archive.namelist()}):
            with archive.open(f"{name}.npy") as f:
                sizes[name] = _declared_bytes(f)
        check_fits(
            sum(sizes.values()),
            f"the arrays of {path}",
            "the file declares arrays larger than any network this package runs",
            cap=MAX_ARRAY_BYTES,
        )
        return description, {n: _member(archive, n, sizes[n]) for n in sizes}


def _declared_bytes(f: Any) -> int:
    version = np.lib.format.read_magic(f)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise NetworkFormatError(f"unsupported .npy format version {version}")
    shape, _, dtype = readers[version](f)
    if dtype.hasobject:
        raise NetworkFormatError("an array of Python objects is never loaded")
    return int(np.prod(shape, dtype=np.float64)) * dtype.itemsize


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> np.ndarray:
    with archive.open(f"{name}.npy") as f:
        if _declared_bytes(f) > limit:
            raise NetworkFormatError(f"the member {name!r} is larger than {limit} bytes")
    with archive.open(f"{name}.npy") as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _array_names(description: Any) -> list[str]:
    """Every ``{"__array__": name}`` in the description (walked without recursion)."""
    names, todo = [], [description]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            if isinstance(value.get("__array__"), str):
                names.append(value["__array__"])
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
    return names
