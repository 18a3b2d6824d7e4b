"""A NeuroBench model that runs a Loihi emulation (optional extra ``neurobench``).

``neurobench.Benchmark(model=NeuroBenchEmulation(net), ...)`` emulates every batch with
:class:`emu.Emulation` and replays the recorded spikes step by step through a torch view of
the chip's network, so NeuroBench's hooks see the emulated spikes: one ``Linear`` per
projection (dense ``[target, source]``, the chip's integer weights as float32) fed the
source's spikes of the step, and one :class:`RecordedSpikes` per layer that outputs the
layer's spikes of the step. NeuroBench then measures what :func:`emu.neurobench_metrics`
computes from the traces (see there for the definitions). ``MembraneUpdates`` and
``NeuronOperations`` need snntorch neurons and read 0 here: take them from
:func:`emu.neurobench_metrics.neurobench_metrics`.
"""

from __future__ import annotations

import numpy as np
import torch
from neurobench.models import NeuroBenchModel
from torch import nn

from converters.chips.loihi import LoihiNet

from .emulation import Emulation
from .neurobench_metrics import loihi_connections
from .traces.stats import layer_names

__all__ = ["NeuroBenchEmulation", "RecordedSpikes", "MAX_VIEW_ENTRIES"]

MAX_VIEW_ENTRIES = 50_000_000  # connection-matrix entries of the torch view (200 MB float32)


class RecordedSpikes(nn.Module):
    """A layer's activation in the view: returns the spikes it is given; holds its biases."""

    def __init__(self, bias: np.ndarray):
        super().__init__()
        self.register_buffer("bias", torch.as_tensor(bias, dtype=torch.float32))

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return spikes


class _View(nn.Module):
    """The chip's network as torch modules: connections and activations, in layer order."""

    def __init__(self, net: LoihiNet):
        super().__init__()
        self.routes = []
        self.connections = nn.ModuleList()
        for source, target, dense in loihi_connections(net):
            linear = nn.Linear(dense.shape[1], dense.shape[0], bias=False)
            linear.weight.data = torch.as_tensor(dense, dtype=torch.float32)
            self.connections.append(linear)
            self.routes.append((source, target))
        self.activations = nn.ModuleDict(
            {layer.name: RecordedSpikes(layer.bias) for layer in net.layers}
        )

    def replay(self, spikes: dict[str, torch.Tensor]) -> None:
        """Feed one step's spikes ({layer: (batch, neurons)}) through every module."""
        for (source, _), linear in zip(self.routes, self.connections, strict=True):
            linear(spikes[source])
        for name, activation in self.activations.items():
            activation(spikes[name])


class NeuroBenchEmulation(NeuroBenchModel):
    """Wrap a LoihiNet for ``neurobench.Benchmark``: each call emulates a batch.

    A call takes a batch of inputs (torch tensor, shape (N, *input shape)) and returns the
    predicted classes (N,), as ``ClassificationAccuracy`` compares them with the labels;
    ``last_traces`` holds the traces of the last batch.

    Parameters
    ----------
    net
        The converted network (its dense view must hold at most ``MAX_VIEW_ENTRIES``
        connection entries).
    device, batch_size, cache_dir, seed
        As :class:`emu.Emulation` (default device ``"native"``).
    """

    def __init__(
        self,
        net: LoihiNet,
        device: str = "native",
        batch_size: int = 128,
        cache_dir=None,
        seed: int = 0,
    ):
        super().__init__()
        if not isinstance(net, LoihiNet):
            raise TypeError(f"NeuroBenchEmulation wraps a LoihiNet, got {type(net).__name__}")
        sizes = {layer.name: layer.size for layer in net.all_layers()}
        entries = sum(
            layer.size * sizes[p.source] for layer in net.layers for p in layer.projections
        )
        if entries > MAX_VIEW_ENTRIES:
            raise ValueError(
                f"the torch view of this network holds {entries} connection entries, above "
                f"{MAX_VIEW_ENTRIES}: use emu.neurobench_metrics on its traces instead"
            )
        self.net = net
        self.view = _View(net).eval()
        self.emulation = Emulation(
            net, device=device, batch_size=batch_size, cache_dir=cache_dir,
            record_events=True, seed=seed,
        )  # fmt: skip
        self.add_activation_module(RecordedSpikes)
        self.last_traces = None

    def __call__(self, batch) -> torch.Tensor:
        x = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
        tr = self.emulation.run(x, progress=False)
        self.last_traces = tr
        names = layer_names(tr)
        steps, n = int(tr.sizes["step"]), len(x)
        rasters = {name: torch.zeros(steps, n, int(tr.sizes[f"neuron_{name}"])) for name in names}
        s, t, lay, neu = (tr[f"event_{k}"].values for k in ("sample", "step", "layer", "neuron"))
        s = s - int(tr["sample"].values[0])
        for k, name in enumerate(names):
            mine = lay == k
            rasters[name][t[mine], s[mine], neu[mine]] = 1.0
        with torch.no_grad():
            for step in range(steps):
                self.view.replay({name: r[step] for name, r in rasters.items()})
        return torch.as_tensor(np.asarray(tr["prediction"].values, np.int64))

    def __net__(self) -> nn.Module:
        return self.view
