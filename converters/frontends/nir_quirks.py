"""What other tools write into NIR graphs differently, normalised before neuroemu reads them.

- A batch dimension: norse (and other tools given a batched sample) write the Input as
  (1, N) or (1, C, H, W) and neuron parameters as (1, ...) arrays; a leading 1 is dropped,
  consistently for the Input and every parameter; a batch of more than one is refused.
- nir's own type check: ``nir.read`` refuses files whose declared node types disagree
  (batched Inputs before unbatched edges, older writers' missing or stale types) with
  "Type inference error"; such files are read without it, and neuroemu's import checks every
  edge's sizes itself (each Affine, Conv2d and pool against the shape that reaches it).
- The reset: NIR's IF and LIF reset to v_reset, but sinabs writes its IAF and LIF, and
  snntorch its default Leaky, which reset by subtraction, as the same nodes with no word of
  it (sinabs reads every IF back as subtracting); a graph from another tool is read with
  reset to zero unless told otherwise, and a note says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["NIRImportError", "read_graph", "input_shape", "per_neuron", "reset_note"]

_BATCHED_RANKS = (2, 4)  # (1, N) and (1, C, H, W); a 3-d Input is (C, H, W)


class NIRImportError(ValueError):
    """A NIR graph that neuroemu cannot read as a LoihiNet."""


def read_graph(path: str | os.PathLike) -> tuple[object, str | None]:
    """A NIR file as a graph, and a note when nir's type check had to be left out."""
    import nir

    try:
        return nir.read(path), None
    except ValueError as err:
        if "type inference" not in str(err).lower():
            raise
        reason = str(err).splitlines()[0]
    graph = nir.read(path, type_check=False)
    return graph, (
        f"nir's type check refuses {Path(path).name} ({reason}); read without it, "
        "with every edge's sizes checked by neuroemu"
    )


def input_shape(key: str, declared) -> tuple[int, ...]:
    """The shape of one sample at Input ``key``: a leading batch dimension of 1 dropped."""
    values = np.atleast_1d(np.asarray(declared, dtype=object))
    if declared is None or values.size == 0 or any(v is None for v in values):
        raise NIRImportError(
            f"Input {key!r} declares no shape ({declared!r}); neuroemu needs the shape of one "
            "sample, e.g. (64,) or (C, H, W)"
        )
    shape = tuple(int(s) for s in values)
    if len(shape) in _BATCHED_RANKS:
        if shape[0] != 1:
            raise NIRImportError(
                f"Input {key!r} has shape {shape}: a batch of {shape[0]} samples; neuroemu "
                f"reads one sample, {shape[1:]}: export the graph from a sample of batch size 1"
            )
        return shape[1:]
    return shape


def per_neuron(value, shape: tuple[int, ...]) -> np.ndarray:
    """A neuron parameter as one value per neuron of ``shape``, a leading batch of 1 dropped."""
    arr = np.asarray(value, np.float64)
    if arr.ndim == len(shape) + 1 and arr.shape[0] == 1:
        arr = arr[0]
    return np.broadcast_to(arr, shape).ravel()


def reset_note(keys: list[str]) -> str:
    """The note for IF / LIF nodes of another tool read with NIR's reset to zero."""
    return (
        f"nodes {keys} are read with NIR's reset to zero; sinabs' IAF and LIF and snntorch's "
        "default Leaky reset by subtraction and write the same nodes: pass reset='subtract' "
        "if the source network subtracts"
    )
