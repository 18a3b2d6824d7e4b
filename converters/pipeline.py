"""The conversion chain in one call: a model and its calibration samples to a chip network.

``loihi_net`` is :func:`converters.load` → :func:`converters.normalize` →
:func:`converters.to_loihi`; ``akida_net`` is :func:`converters.load` →
:func:`converters.to_akida` (Akida quantizes on the calibration samples itself). Each
makes the same calls, in the same order, as writing the chain out.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .chips.akida import AkidaNet
from .chips.akida_v2 import AkidaV2Net
from .chips.loihi import LoihiNet
from .frontends.importer import load
from .graph import Graph
from .targets.akida import to_akida
from .targets.loihi import to_loihi
from .targets.normalization import normalize

__all__ = ["normalized_graph", "loihi_net", "akida_net"]


def _graph(model: Any, calibration: np.ndarray, example: Any) -> Graph:
    """The float graph of ``model``, traced on ``example`` (default: the first calibration sample)."""
    return load(model, calibration[:1] if example is None else example)


def normalized_graph(
    model: Any,
    calibration: np.ndarray,
    *,
    example: Any = None,
    percentile: float = 99.9,
    warn_dead: bool = True,
) -> Graph:
    """``model`` (torch module, .onnx path or openvino.Model) loaded and normalized on
    ``calibration`` at ``percentile``; ``warn_dead=False`` silences the warning about layers
    that never activate on ``calibration``."""
    graph = _graph(model, calibration, example)
    with warnings.catch_warnings():
        if not warn_dead:
            warnings.simplefilter("ignore")
        return normalize(graph, calibration, percentile=percentile)


def loihi_net(
    model: Any,
    calibration: np.ndarray,
    *,
    example: Any = None,
    percentile: float = 99.9,
    warn_dead: bool = True,
    **options: Any,
) -> LoihiNet:
    """``model`` loaded, normalized on ``calibration`` (see :func:`normalized_graph`) and
    quantized for Loihi; ``options`` are :func:`converters.to_loihi`'s (timesteps, reset,
    input_encoding, ...)."""
    graph = normalized_graph(
        model, calibration, example=example, percentile=percentile, warn_dead=warn_dead
    )
    return to_loihi(graph, **options)


def akida_net(
    model: Any, calibration: np.ndarray, *, example: Any = None, **options: Any
) -> AkidaNet | AkidaV2Net:
    """``model`` loaded and quantized for Akida on ``calibration``; ``options`` are
    :func:`converters.to_akida`'s (bits, percentile, drop_output_bias, version)."""
    return to_akida(_graph(model, calibration, example), calibration, **options)
