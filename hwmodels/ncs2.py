"""The NCS2 baseline: the real network through OpenVINO, with NCS2 latency and power modelled.

OpenVINO's CPU plugin computes outputs, accuracy and host latency (the MYRIAD plugin left
OpenVINO after 2022.3). The NCS2 is modelled per layer from its MACs and bytes::

    t_layer  = max( 2 MACs / (ncs2_peak_ops * ncs2_utilization),  bytes / ncs2_memory_bandwidth )
    latency  = sum t_layer + (input + output bytes) / ncs2_usb_bandwidth + ncs2_call_overhead
    power    = min(ncs2_power, ncs2_tdp);  idle part = ncs2_idle_power

The running and idle power and the last latency term (the call floor: host, USB and
runtime time of one synchronous request) are calibrated by ``scripts/calibrate_ncs2.py``
on Blouw et al. 2019's NCS2 logs, the memory bandwidth (the layers' effective data rate)
on a published NCS2 frame rate of an encoder-decoder (``data/published_ncs2.json``). The energy per inference has two parts, ``idle`` (idle
power x latency) and ``dynamic`` (running minus idle, x latency); the ``accounting``
convention (:mod:`hwmodels.accounting`) picks which it counts. Every estimate carries
bounds from the constants' ranges. Measured NCS2 figures (a JSON file with
``latency`` in s, ``power`` in W, optionally ``idle_power`` in W and ``source``) replace
the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from converters.exports.openvino_graph import graph_to_openvino
from converters.graph import AvgPool2d, Conv2d, Dense, Graph, MaxPool2d

from . import accounting as conventions
from .constants import Constants
from .estimate import Estimate, LayerEstimate, with_bounds
from .ncs2_constants import BOUNDED, USED

__all__ = ["baseline", "modelled", "layer_costs", "load_measured", "MODEL", "MEASURED_KEYS"]

MODEL = (
    "hwmodels.ncs2 v4: roofline per layer (MACs, bytes) + call floor; power and floor "
    "calibrated on Blouw 2019's NCS2 logs, data rate on prg_prgncs's encoder-decoder"
)
MEASURED_KEYS = ("latency", "power", "idle_power", "source")

ASSUMPTIONS = [
    "each layer is bound by either its MACs or its bytes (a roofline), not both",
    "one synchronous request costs ncs2_call_overhead of host, USB and runtime time",
    "the NCS2 draws its measured running power while running, its measured idle otherwise",
    "weights and activations cross memory once per inference, in FP16",
]


def layer_costs(
    graph: Graph | Mapping[str, tuple[float, float, float]], bytes_per_value: float = 2
) -> dict[str, tuple[float, float]]:
    """MACs and bytes (weights, input and output) of every node after the input; or of
    every layer of a mapping name -> (MACs, weights, input + output values)."""
    if not isinstance(graph, Graph):
        return {n: (float(m), (w + v) * bytes_per_value) for n, (m, w, v) in graph.items()}
    shapes = graph.shapes()
    costs = {}
    for node in graph.nodes[1:]:
        out = float(np.prod(shapes[node.name]))
        inp = float(sum(np.prod(shapes[i]) for i in node.inputs))
        params = 0.0
        if isinstance(node, Conv2d):
            macs = out * np.prod(node.weight.shape[1:])
            params = node.weight.size + node.bias.size
        elif isinstance(node, Dense):
            macs = out * node.weight.shape[1]
            params = node.weight.size + node.bias.size
        elif isinstance(node, AvgPool2d | MaxPool2d):
            macs = out * node.kernel[0] * node.kernel[1]
        else:
            macs = 0.0
        costs[node.name] = (float(macs), (params + inp + out) * bytes_per_value)
    return costs


def load_measured(path: str | os.PathLike) -> dict:
    """Measured NCS2 figures from a JSON file (see the module docstring), validated."""
    path = Path(path)
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with keys {MEASURED_KEYS}")
    unknown = sorted(set(data) - set(MEASURED_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; accepted: {list(MEASURED_KEYS)}")
    for key in ("latency", "power"):
        if key not in data:
            raise ValueError(f"{path}: the measured figures need {key!r}")
    for key in ("latency", "power", "idle_power"):
        if key in data and not (isinstance(data[key], int | float) and data[key] >= 0):
            raise ValueError(f"{path}: {key!r} must be a non-negative number, got {data[key]!r}")
    if data["latency"] == 0:
        raise ValueError(f"{path}: 'latency' must be positive")
    return {"source": str(path)} | data


def _openvino_model(model: Any, images: np.ndarray) -> tuple[Any, Graph]:
    import converters

    if isinstance(model, Graph):
        return graph_to_openvino(model), model
    ov_model = converters.to_openvino(model, images[:1])
    return ov_model, converters.load(ov_model)


def _run(ov_model, images: np.ndarray) -> tuple[np.ndarray, float]:
    import openvino as ov

    compiled = ov.Core().compile_model(ov_model, "CPU")
    request = compiled.create_infer_request()
    outputs, times = [], []
    for x in np.asarray(images, np.float32):
        start = time.perf_counter()
        request.infer({0: x[None]})
        times.append(time.perf_counter() - start)
        outputs.append(np.array(request.get_output_tensor(0).data).reshape(-1))
    return np.stack(outputs), float(np.median(times))


def baseline(
    model_or_graph: Any,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    measured: str | os.PathLike | dict | None = None,
    constants: Constants | None = None,
    label: str = "ncs2",
    accounting: str = conventions.DEFAULT,
) -> Estimate:
    """Run the network through OpenVINO (CPU) and estimate the NCS2's figures per inference.

    Parameters
    ----------
    model_or_graph
        A torch module, an ONNX path, an ``openvino.Model`` or a :class:`converters.Graph`.
    images
        Input samples (N, *input shape).
    labels
        Integer labels for the accuracy (None: no accuracy).
    measured
        Measured NCS2 figures (a JSON path or a dict, see the module docstring) that
        replace the modelled latency and power.
    constants
        Registry values (defaults when None).
    label
        Name of this estimate in reports.
    accounting
        Which parts the energy counts: "all" (default: idle and dynamic), "dynamic" or
        "blouw" (the dynamic part), see :mod:`hwmodels.accounting`.
    """
    c = constants or Constants()
    conventions.check(accounting)
    images = np.asarray(images, np.float32)
    if len(images) == 0:
        raise ValueError("the NCS2 baseline needs at least one image")
    ov_model, graph = _openvino_model(model_or_graph, images)
    outputs, host_latency = _run(ov_model, images)
    predictions = outputs.argmax(1)
    acc = None if labels is None else float(np.mean(predictions == np.asarray(labels)))
    io_values = images[0].size + outputs.shape[1]
    figures = None
    if measured is not None:
        figures = measured if isinstance(measured, dict) else load_measured(measured)
    result = with_bounds(
        lambda k: modelled(
            graph, io_values, k, label=label, measured=figures, accounting=accounting
        ),
        c,
        [] if figures else BOUNDED,
    )
    result.accuracy, result.samples = acc, len(images)
    result.details |= {"host_latency": host_latency, "host_device": "OpenVINO CPU plugin"}
    return result


def modelled(
    graph: Graph | Mapping[str, tuple[float, float, float]],
    io_values: int,
    constants: Constants | None = None,
    *,
    label: str = "ncs2",
    measured: dict | None = None,
    accounting: str = conventions.DEFAULT,
) -> Estimate:
    """The NCS2 figures of a graph (or of per-layer counts, see :func:`layer_costs`) per
    inference (no OpenVINO run): the roofline model, or the ``measured`` figures with the
    energy split by modelled layer time."""
    c = constants or Constants()
    bpv = c["ncs2_bytes_per_value"]
    costs = layer_costs(graph, bpv)
    rate = c["ncs2_peak_ops"] * c["ncs2_utilization"]
    layer_times = {
        name: max(2 * macs / rate, nbytes / c["ncs2_memory_bandwidth"])
        for name, (macs, nbytes) in costs.items()
    }
    overhead = c["ncs2_call_overhead"] + io_values * bpv / c["ncs2_usb_bandwidth"]
    latency = sum(layer_times.values()) + overhead
    power = min(c["ncs2_power"], c["ncs2_tdp"])
    idle = min(c["ncs2_idle_power"], power)
    model, assumptions = MODEL, list(ASSUMPTIONS)
    if measured is not None:
        latency, power = float(measured["latency"]), float(measured["power"])
        idle = float(measured.get("idle_power", idle))
        model = f"measured NCS2 figures ({measured.get('source', 'given')})"
        assumptions = ["latency and power as measured; per-layer energy split by modelled time"]
    busy = sum(layer_times.values()) or 1.0
    parts = {"idle": idle * latency, "dynamic": (power - idle) * latency}
    static, counted = conventions.split("ncs2", parts, accounting)
    dynamic = parts["dynamic"]
    layers = [
        LayerEstimate(
            name,
            dynamic * layer_times[name] / busy,
            {"macs": macs, "bytes": nbytes, "time": layer_times[name]},
        )
        for name, (macs, nbytes) in costs.items()
    ]
    return Estimate(
        platform="ncs2",
        label=label,
        model=model,
        latency=latency,
        period=latency,
        energy_dynamic=counted,
        energy_static=static,
        accuracy=None,
        samples=0,
        layers=layers,
        constants=c.record(USED),
        constants_origin=c.origin,
        assumptions=assumptions,
        details={
            "macs": float(sum(m for m, _ in costs.values())),
            "bytes": float(sum(b for _, b in costs.values())),
            "overhead": overhead,
            "accounting": accounting,
            "parts": parts,
        },
    )
