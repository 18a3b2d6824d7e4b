"""Small Loihi networks and the trace sets the numpy reference records from them, for tests."""

from __future__ import annotations

import copy
import warnings
from functools import lru_cache

import numpy as np
import xarray as xr

from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from emu import Emulation

__all__ = ["random_net", "reference_traces", "digits_demo_net"]


def random_net(seed: int = 0, timesteps: int = 32, sizes=(24, 16, 5)) -> LoihiNet:
    """A dense feed-forward LoihiNet on 4x4 inputs with random excitatory-biased weights."""
    rng = np.random.default_rng(seed)
    layers, source, n_in = [], "input", 16
    for k, size in enumerate(sizes):
        pre, post = np.meshgrid(np.arange(n_in), np.arange(size))
        mant = rng.integers(-60, 64, size=pre.size) * 2
        keep = mant != 0
        proj = LoihiProjection(source, pre.ravel()[keep], post.ravel()[keep], mant[keep], 0)
        name = f"layer{k}"
        layers.append(LoihiLayer(name, size, [proj], vth_mant=120, reset="subtract"))
        source, n_in = name, size
    return LoihiNet(LoihiInput((1, 4, 4)), layers, timesteps)


def reference_traces(
    net: LoihiNet, images: np.ndarray, labels: np.ndarray | None, events: bool = True
) -> xr.Dataset:
    """The trace Dataset of ``net`` on ``images`` from the numpy reference device."""
    return Emulation(net, device="reference", record_events=events).run(images, labels)


@lru_cache(maxsize=1)
def _digits_graph():
    from converters import load, normalize
    from converters.training import train
    from converters.training.datasets import digits
    from converters.training.models import digits_cnn

    data = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train(digits_cnn(), data.x_train, data.y_train, epochs=5, lr=1e-2)
        graph = normalize(load(model, data.x_train[:4]), data.x_train[:300])
    return graph, data


def digits_demo_net(timesteps: int = 64):
    """The digits demo network (digits_cnn trained 5 epochs, normalized, to_loihi) and its data."""
    from converters import to_loihi

    graph, data = _digits_graph()
    return to_loihi(copy.deepcopy(graph), timesteps=timesteps), data
