"""The hardware models by target: each chip's estimate, deployment report and trace kind.

One entry per target chip (the ``target`` a converted network and its traces carry);
``neuroemu estimate`` and ``deploy-report``, :func:`hwmodels.deploy.deploy_report` and the
trace check (:mod:`hwmodels.trace_input`) look the chip up here instead of naming it. The
functions are named by ``"module:function"`` and imported on first use, so that the
registry imports nothing (a model module imports the trace check, which reads the registry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Literal

__all__ = ["HardwareModel", "MODELS", "models_for"]


@dataclass(frozen=True, kw_only=True)
class HardwareModel:
    """One target chip's model.

    ``traces`` says what its traces count: Loihi's spikes (integers >= 0, one count per
    compartment of every layer) or Akida's activations (finite numbers, per output of the
    input and every layer). ``options`` are the estimate's keyword options beyond
    ``constants``, ``rate`` and ``label``.
    """

    target: str
    chip: str
    estimate_function: str
    deploy_function: str | None = None
    traces: Literal["spikes", "activations"]
    options: tuple[str, ...] = ()

    @property
    def estimate(self) -> Callable:
        """The estimate function: ``estimate(net, traces, *, constants, rate, label, ...)``."""
        return _resolve(self.estimate_function)

    @property
    def deploy(self) -> Callable:
        """The deployment report function: ``deploy(net, constants) -> Deployment``."""
        if self.deploy_function is None:
            raise ValueError(f"no deployment report for {self.chip} networks")
        return _resolve(self.deploy_function)


def _resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


MODELS: dict[str, HardwareModel] = {
    m.target: m
    for m in (
        HardwareModel(
            target="loihi",
            chip="Loihi",
            estimate_function="hwmodels.loihi:estimate",
            deploy_function="hwmodels.deploy:loihi_deployment",
            traces="spikes",
            options=("cores_per_layer", "accounting"),
        ),
        HardwareModel(
            target="akida",
            chip="AKD1000",
            estimate_function="hwmodels.akida:estimate",
            deploy_function="hwmodels.deploy:akida_deployment",
            traces="activations",
            options=("frames_per_call",),
        ),
        HardwareModel(
            target="akida_v2",
            chip="Akida 2.0",
            estimate_function="hwmodels.akida_v2:estimate_v2",
            traces="activations",
            options=("device", "frames_per_call"),
        ),
    )
}


def models_for(target: object) -> HardwareModel:
    """The hardware model of ``target``; ValueError names the targets there are."""
    if not isinstance(target, str) or target not in MODELS:
        raise ValueError(
            f"no hardware model for target {target!r}; expected one of {', '.join(MODELS)}"
        )
    return MODELS[target]
