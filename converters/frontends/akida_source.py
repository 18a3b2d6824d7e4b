"""What both Akida imports read first: the ``akida.Model`` (or its saved .fbz) and its input,
and the one list of the Akida 2.0 layer types the records hold."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ..chips.akida_v2 import ENGINE_TYPES
from ..exports.akida_export import akida_package

__all__ = ["V2_TYPES", "ModelInput", "open_model", "model_input"]

# the engine's names of the Akida 2.0 layer types an AkidaV2Net holds
V2_TYPES = tuple(ENGINE_TYPES.values())


class ModelInput(NamedTuple):
    """An akida model's input and the layers that compute on it."""

    layers: list  # the model's layers after its InputData
    shape: tuple[int, ...]
    bits: int
    name: str


def open_model(model_or_path):
    """The akida package, and ``model_or_path`` or the ``akida.Model`` saved there (.fbz)."""
    akida = akida_package()
    if isinstance(model_or_path, str | os.PathLike):
        return akida, akida.Model(str(Path(model_or_path)))
    return akida, model_or_path


def model_input(model, input_name: str, error: Callable[[str, str], Exception]) -> ModelInput:
    """The model's input: its InputData layer's bits and name (refusing signed inputs with
    ``error(layer, problem)``), or 8 bits named ``input_name`` without one."""
    layers = list(model.layers)
    shape = tuple(int(s) for s in model.input_shape)
    first = layers[0].parameters
    if first.layer_type.name != "InputData":
        return ModelInput(layers, shape, 8, input_name)
    if first.input_signed:
        raise error(layers[0].name, "signed inputs")
    return ModelInput(layers[1:], shape, int(first.input_bits), layers[0].name)
